"""
The Python peer of `npm run bench:peer`: what a Python shop would deploy instead
of edgegen. FastAPI + uvicorn + onnxruntime (1 intra-op thread) + numpy noise +
orjson, answering the same requests from the same models/<id>/*.onnx files, in
one process or, as Python services are usually deployed, one uvicorn worker
process per core (--workers N; each worker imports this module's `app`):

  POST /v1/models/{id}/sample   {"n", "seed"}       JSON {samples, shape, seed}, or ?format=f32
  POST /v1/models/{id}/density  {"x", "k", "seed"}  JSON {logp, kind}

A class-conditional model (manifest `classes`) samples each row's class from
the training prior, and its density is log p(x) = logsumexp_y (log p(y) +
log p(x | y)), as edgegen answers them.

A benchmark reference only: never a dependency of edgegen, its tests or CI.
Run it from a virtual environment outside the repository:

  python3 -m venv /path/to/venv
  /path/to/venv/bin/pip install fastapi uvicorn onnxruntime orjson numpy
  /path/to/venv/bin/python bench/peer.py --models models --port 8790 [--workers 2]
"""

import argparse
import json
import os

import numpy as np
import onnxruntime as ort
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

# the models folder reaches uvicorn's worker processes, which import this module
# rather than run it, through the environment
MODELS = os.environ.get("EDGEGEN_PEER_MODELS", "models")

app = FastAPI()
manifests: dict = {}
sessions: dict = {}


def manifest(model_id: str) -> dict:
    if model_id not in manifests:
        with open(os.path.join(MODELS, model_id, "manifest.json")) as f:
            manifests[model_id] = json.load(f)
    return manifests[model_id]


def session(m: dict, capability: str) -> ort.InferenceSession:
    key = (m["id"], capability)
    if key not in sessions:
        entry = next(f for f in m["files"] if f["capability"] == capability)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sessions[key] = ort.InferenceSession(os.path.join(MODELS, m["id"], entry["file"]), opts, providers=["CPUExecutionProvider"])
    return sessions[key]


def data_dim(m: dict) -> int:
    return int(np.prod(m["shape"]))


def labels(m: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    """One-hot rows [n, C], each class drawn from the model's prior p(y)."""
    prior = np.asarray(m["classes"]["prior"], dtype=np.float64)
    ids = rng.choice(len(prior), size=n, p=prior / prior.sum())
    return np.eye(len(prior), dtype=np.float32)[ids]


def class_marginal(m: dict, per_class: np.ndarray) -> np.ndarray:
    """log p(x) from log p(x | y) [n, C] and the prior: logsumexp over the classes."""
    joint = per_class.astype(np.float64) + np.log(np.asarray(m["classes"]["prior"], dtype=np.float64))
    top = joint.max(axis=1, keepdims=True)
    return (top[:, 0] + np.log(np.exp(joint - top).sum(axis=1))).astype(np.float32)


def answer(body: dict, f32: bool, shape: str = "") -> Response:
    if f32:
        return Response(content=body["samples"].astype("<f4").tobytes(), media_type="application/octet-stream", headers={"x-edgegen-shape": shape})
    return Response(content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


@app.post("/v1/models/{model_id}/sample")
async def sample(model_id: str, request: Request) -> Response:
    m = manifest(model_id)
    req = orjson.loads(await request.body() or b"{}")
    n, seed = int(req.get("n", 1)), int(req.get("seed", 0))
    D, L = data_dim(m), m["latentDim"]
    rng = np.random.default_rng(seed)
    s = session(m, "sample")
    names = {i.name for i in s.get_inputs()}
    feeds = {"z": rng.standard_normal((n, L), dtype=np.float32)}
    if "noise" in names:
        feeds["noise"] = rng.standard_normal((n, D), dtype=np.float32)
    if "label" in names:
        feeds["label"] = labels(m, rng, n)
    if "y" in names:  # autoregressive: one pass per dimension
        y = np.zeros((n, D), dtype=np.float32)
        for _ in range(D):
            y, x = s.run(["y_next", "x"], {**feeds, "y": y})
    else:
        (x,) = s.run(["x"], feeds)
    x = x.reshape(n, D)
    return answer({"samples": x, "shape": m["shape"], "seed": seed}, request.query_params.get("format") == "f32", f"{n},{D}")


@app.post("/v1/models/{model_id}/density")
async def density(model_id: str, request: Request) -> Response:
    m = manifest(model_id)
    if request.headers.get("content-type", "").startswith("application/octet-stream"):
        rows, width = map(int, request.headers["x-edgegen-shape"].split(","))
        x = np.frombuffer(await request.body(), dtype="<f4").reshape(rows, width)
        req = {"k": int(request.query_params.get("k", 1)), "seed": int(request.query_params.get("seed", 0))}
    else:
        req = orjson.loads(await request.body())
        x = np.asarray(req["x"], dtype=np.float32)
    n, D = x.shape
    rng = np.random.default_rng(int(req.get("seed", 0)))
    if m.get("discrete"):
        x = np.floor(x) + rng.random((n, D), dtype=np.float32)
    s = session(m, "density")
    names = {i.name for i in s.get_inputs()}
    feeds = {"x": x}
    if "eps" in names:
        k = int(req.get("k", 1))
        feeds["eps"] = rng.standard_normal((n, k, m["latentDim"]), dtype=np.float32)
        if "classes" in m:
            elbo, iwae = (class_marginal(m, v) for v in s.run(["elboy", "iwaey"], feeds))
        else:
            elbo, iwae = s.run(["elbo", "iwae"], feeds)
        logp, kind = (iwae, "iwae") if k > 1 else (elbo, "elbo")
    elif "classes" in m:
        (logpy,) = s.run(["logpy"], feeds)
        logp, kind = class_marginal(m, logpy), "exact"
    else:
        (logp,) = s.run(["logp"], feeds)
        kind = "exact"
    if request.query_params.get("format") == "f32":
        return Response(content=logp.astype("<f4").tobytes(), media_type="application/octet-stream", headers={"x-edgegen-shape": str(n)})
    return answer({"logp": logp, "kind": kind}, False)


@app.get("/healthz")
async def healthz() -> Response:
    return answer({"status": "ok", "runtime": "python"}, False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="models")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (each with its own sessions)")
    args = parser.parse_args()
    MODELS = os.environ["EDGEGEN_PEER_MODELS"] = os.path.abspath(args.models)
    if args.workers == 1:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    else:
        uvicorn.run("peer:app", app_dir=os.path.dirname(os.path.abspath(__file__)), workers=args.workers, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
