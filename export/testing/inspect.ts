/** Reads an .onnx file back through onnx-proto: op types and the signature, for tests. */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface GraphInfo {
  ops: string[];
  irVersion: number;
  opset: number;
  /** name -> dims, symbolic dims as their names */
  inputs: Record<string, Array<number | string>>;
  outputs: Record<string, Array<number | string>>;
}

export function inspectGraph(bytes: Uint8Array): GraphInfo {
  const m = onnx.ModelProto.decode(bytes);
  const sig = (vs: InstanceType<typeof onnx.ValueInfoProto>[]) =>
    Object.fromEntries(vs.map((v) => [v.name, (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)))]));
  return {
    ops: (m.graph?.node ?? []).map((n) => n.opType as string),
    irVersion: Number(m.irVersion),
    opset: Number(m.opsetImport[0]?.version),
    inputs: sig((m.graph?.input ?? []) as never),
    outputs: sig((m.graph?.output ?? []) as never),
  };
}
