/**
 * Training section: runs bench/train.ts (steps/s per tfjs backend and family on
 * fixed shapes) in a child process and returns its table, with the GPU note.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, type BenchOptions } from './common';

export async function training(opts: BenchOptions): Promise<string> {
  const args = [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bench/train.ts'), '--seconds', opts.quick ? '0.3' : '3'];
  if (opts.quick) args.push('--only', 'toys');
  const outText = execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 20 * 60_000 });
  return [
    '### Training: steps/s per tfjs backend (bench/train.ts)',
    '',
    outText.trim(),
    '',
    'No GPU on this machine: tfjs-node-gpu and webgpu (Dawn) cannot run here, and tfjs-node is absent (its install downloads libtensorflow, impossible offline). Shapes and batch sizes are those of bench/train.ts (toys batch 256; images batch 128, GAN 64). PyTorch columns appear when a python with torch is given (--torch, $EDGEGEN_TORCH_PYTHON or python3).',
  ].join('\n');
}
