/**
 * An independent reader of our files: Debian's python3-onnx (onnx 1.12) runs
 * checker.check_model(full_check=True), which includes shape inference, on
 * each path. One python process for all files keeps the tests fast.
 */
import { execFileSync } from 'node:child_process';

const SCRIPT = `
import sys, onnx
for p in sys.argv[1:]:
    m = onnx.load(p)
    onnx.checker.check_model(m, full_check=True)
    print(p, m.ir_version, m.opset_import[0].version)
`;

export const PYTHON = '/usr/bin/python3';

/** Throws with python's message if any file fails; returns [path, ir, opset] per file. */
export function checkOnnxFiles(paths: string[]): Array<[string, number, number]> {
  const out = execFileSync(PYTHON, ['-c', SCRIPT, ...paths], { encoding: 'utf8' });
  return out.trim().split('\n').map((l) => {
    const [p, ir, op] = l.split(' ');
    return [p, Number(ir), Number(op)];
  });
}
