"""PyTorch (CPU) peer for bench/train.ts: steps/s of one training step on the
same shapes as edgegen's specs, at a given thread count.

A reference only: never a dependency of edgegen, its tests or CI. The nets are
built from the spec JSON that bench/train.ts sends on stdin (MLP sizes and
activations, flow steps and masks, conv channels and kernel), with the same
losses in kind: negative ELBO with a per-pixel Gaussian decoder, the
non-saturating GAN loss (a D step then a G step), the flows' exact negative
log-likelihood. Padding details of the convs differ from SAME by one row at
most; the FLOPs are the same.

    python3 bench/torch_train.py THREADS SECONDS < cases.json
prints {"label": steps_per_second, ...} as JSON.
"""
import json
import math
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

ACT = {
    "relu": nn.ReLU, "leakyRelu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "elu": nn.ELU, "linear": nn.Identity,
}


def mlp(spec):
    sizes, layers = spec["sizes"], []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        layers.append(ACT[spec["hidden"] if i + 2 < len(sizes) else spec["output"]]())
    return nn.Sequential(*layers)


def down(conv, net, out_dim):
    layers, cin = [], 1
    for c in conv["channels"]:
        layers += [nn.Conv2d(cin, c, conv["kernel"], stride=2, padding=conv["kernel"] // 2), ACT[net["hidden"]]()]
        cin = c
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(net["sizes"][0], out_dim), ACT[net["output"]]())


class Up(nn.Module):
    def __init__(self, conv, net, latent, hw):
        super().__init__()
        ch, k = conv["channels"], conv["kernel"]
        n = len(ch)
        self.bottom = (ch[-1], hw[0] >> n, hw[1] >> n)
        self.inp = nn.Sequential(nn.Linear(latent, net["sizes"][1]), ACT[net["hidden"]]())
        layers = []
        for i in range(n):
            cin, cout = ch[n - 1 - i], 1 if i == n - 1 else ch[n - 2 - i]
            layers += [nn.ConvTranspose2d(cin, cout, k, stride=2, padding=k // 2, output_padding=1),
                       ACT[net["output"] if i == n - 1 else net["hidden"]]()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):
        return self.deconv(self.inp(z).view(-1, *self.bottom)).flatten(1)


def logit(x, alpha=0.05):
    p = alpha + (1 - 2 * alpha) * x / 256
    return torch.log(p) - torch.log1p(-p)


class Vae(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.L = s["latentDim"]
        D = math.prod(s["shape"])
        if s.get("arch") == "conv":
            self.enc = nn.Sequential(nn.Unflatten(1, (1, *s["shape"])), down(s["conv"], s["encoder"], 2 * self.L))
            self.dec = Up(s["conv"], s["decoder"], self.L, s["shape"])
        else:
            self.enc, self.dec = mlp(s["encoder"]), mlp(s["decoder"])
        self.logstd = nn.Parameter(torch.zeros(D))
        self.image = s["preprocess"]["kind"] == "logit"

    def loss(self, x):
        y = logit(x) if self.image else x
        mu, logvar = self.enc(y).chunk(2, 1)
        eps = torch.randn_like(mu)
        z = mu + torch.exp(0.5 * logvar) * eps
        m = self.dec(z)
        logstd = self.logstd.clamp(min=-5)
        logpy = (-logstd - 0.5 * ((y - m) / logstd.exp()) ** 2).sum(1)
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)
        return (kl - logpy).mean()


class Gan(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.L = s["latentDim"]
        if s.get("arch") == "conv":
            self.G = Up(s["conv"], s["generator"], self.L, s["shape"])
            self.D = nn.Sequential(nn.Unflatten(1, (1, *s["shape"])), down(s["conv"], s["discriminator"], 1))
        else:
            self.G, self.D = mlp(s["generator"]), mlp(s["discriminator"])


class Flow(nn.Module):
    def __init__(self, s):
        super().__init__()
        D = math.prod(s["shape"])
        self.affine = s["coupling"] == "affine"
        self.register_buffer("masks", torch.tensor(s["masks"], dtype=torch.float32))
        out = 2 * D if self.affine else D
        self.nets = nn.ModuleList(
            mlp({"sizes": [D, *s["hidden"], out], "hidden": s["activation"], "output": "linear"}) for _ in range(s["steps"]))
        self.scale = nn.Parameter(torch.ones(s["steps"], D))
        self.an_logs = nn.Parameter(torch.zeros(s["steps"], D)) if s["actnorm"] else None
        self.an_bias = nn.Parameter(torch.zeros(s["steps"], D)) if s["actnorm"] else None
        self.final = nn.Parameter(torch.zeros(D)) if s["finalScale"] else None
        self.image = s["preprocess"]["kind"] == "logit"

    def loss(self, x):
        y = logit(x) if self.image else x
        logdet = torch.zeros(x.shape[0])
        for l, net in enumerate(self.nets):
            if self.an_logs is not None:
                y = y * self.an_logs[l].exp() + self.an_bias[l]
                logdet = logdet + self.an_logs[l].sum()
            m = self.masks[l]
            h = net(y * m)
            if self.affine:
                s, t = h.chunk(2, 1)
                s = self.scale[l] * torch.tanh(s)
                y = m * y + (1 - m) * (y * s.exp() + t)
                logdet = logdet + ((1 - m) * s).sum(1)
            else:
                y = y + (1 - m) * h
        if self.final is not None:
            y = y * self.final.exp()
            logdet = logdet + self.final.sum()
        return -(-0.5 * (y ** 2).sum(1) + logdet).mean()


class Made(nn.Module):
    """Masked MLP with the degrees of core/spec.ts MadeSpec: out[:, d], out[:, D + d] see y_<d."""

    def __init__(self, s):
        super().__init__()
        D = math.prod(s["shape"])
        sizes = [D, *s["hidden"], 2 * D]
        deg = [torch.arange(D) + 1] + [torch.arange(h) % max(D - 1, 1) + 1 for h in s["hidden"]]
        self.layers, self.masks = nn.ModuleList(), []
        for i in range(len(sizes) - 1):
            self.layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            target = deg[i + 1] if i + 2 < len(sizes) else torch.cat([torch.arange(D) + 1] * 2) - 1
            self.masks.append((target[:, None] >= deg[i][None, :]).float())
        self.act = ACT[s["activation"]]()
        self.min_log_std = s["minLogStd"]
        self.image = s["preprocess"]["kind"] == "logit"

    def loss(self, x):
        y = logit(x) if self.image else x
        h = y
        for i, (layer, mask) in enumerate(zip(self.layers, self.masks)):
            h = F.linear(h, layer.weight * mask, layer.bias)
            if i + 1 < len(self.layers):
                h = self.act(h)
        mu, alpha = h.chunk(2, 1)
        alpha = alpha.clamp(min=self.min_log_std)
        return -(-alpha - 0.5 * ((y - mu) * torch.exp(-alpha)) ** 2).sum(1).mean()


def stepper(case):
    s, B = case["spec"], case["batch"]
    D = math.prod(s["shape"])
    x = torch.rand(B, D) * (256 if D > 2 else 4) - (0 if D > 2 else 2)
    if s["family"] == "gan":
        g = Gan(s)
        oD = torch.optim.Adam(g.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        oG = torch.optim.Adam(g.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real = x / 256 if D > 2 else x

        def step():
            fake = g.G(torch.randn(B, g.L))
            lossD = F.softplus(-g.D(real)).mean() + F.softplus(g.D(fake.detach())).mean()
            oD.zero_grad(); lossD.backward(); oD.step()
            lossG = F.softplus(-g.D(g.G(torch.randn(B, g.L)))).mean()
            oG.zero_grad(); lossG.backward(); oG.step()
        return step
    model = {"vae": Vae, "flow": Flow, "made": Made}[s["family"]](s)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = model.loss(x)
        opt.zero_grad(); loss.backward(); opt.step()
    return step


def main():
    threads, seconds = int(sys.argv[1]), float(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {}
    for case in json.load(sys.stdin):
        step = stepper(case)
        step(); step()  # warm-up
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or n < 3:
            step(); n += 1
        out[case["label"]] = n / (time.perf_counter() - t0)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
