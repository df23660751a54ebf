/**
 * A small ONNX graph builder.
 *
 * Why `onnx-proto`: it is the ONNX protobuf schema (v1.10.2: IR 8, opsets up to
 * 15) compiled to protobuf.js classes, so TypeScript can write valid .onnx
 * files without Python and without hand-rolling protobuf encoding. IR 8 and
 * opset <= 15 are also what Debian's onnx 1.12 checker and every onnxruntime
 * we target understand, so one writer serves all three readers.
 *
 * The builder keeps only what our graphs need: float32 initializers (stored as
 * raw little-endian bytes), int64 constants for shapes/axes, nodes with
 * attributes, and named float32 inputs/outputs whose first dimension is the
 * symbolic batch `N`. Names are generated from a counter so graphs stay
 * readable in Netron without colliding.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type INode = import('onnx-proto').onnx.INodeProto;
type ITensor = import('onnx-proto').onnx.ITensorProto;
type IValueInfo = import('onnx-proto').onnx.IValueInfoProto;
type IAttribute = import('onnx-proto').onnx.IAttributeProto;

export const OPSET = 13;
export const IR_VERSION = 8;
/** The symbolic batch dimension every graph input and output starts with. */
export const BATCH = 'N';

export type AttrValue = number | number[] | string;
/** Integers go out as INT/INTS, everything else as FLOAT/FLOATS; wrap in `float()` to force a float. */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const float = (v: number): FloatAttr => new FloatAttr(v);

/** A dimension: a number, or a symbolic name such as `N`. */
export type Dim = number | string;

export class GraphBuilder {
  private nodes: INode[] = [];
  private inits: ITensor[] = [];
  private inputs: IValueInfo[] = [];
  private outputs: IValueInfo[] = [];
  private names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh tensor name, `${hint}_${k}`. */
  fresh(hint: string): string {
    let n: string;
    do n = `${hint}_${this.counter++}`;
    while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: duplicate tensor name ${name}`);
    this.names.add(name);
    return name;
  }

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dims));
    return name;
  }

  /** Marks `tensor` as a graph output called `name` (through an Identity if the names differ). */
  output(tensor: string, name: string, dims: Dim[]): string {
    if (tensor !== name) this.node('Identity', [tensor], {}, this.claim(name));
    this.outputs.push(valueInfo(name, dims));
    return name;
  }

  /** A float32 initializer. */
  floats(hint: string, shape: number[], data: ArrayLike<number>): string {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new Error(`initializer ${hint}: ${data.length} values for shape [${shape}]`);
    const f = Float32Array.from(data);
    const name = this.fresh(hint);
    this.inits.push({
      name,
      dims: shape,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength),
    });
    return name;
  }

  /** A float32 scalar constant (shape []), broadcastable against anything. */
  scalar(value: number, hint = 'c'): string {
    return this.floats(hint, [], [value]);
  }

  /** An int64 1-D constant, for the axes/starts/ends/shape inputs of opset-13 ops. */
  ints(values: number[], hint = 'i'): string {
    const buf = new BigInt64Array(values.map((v) => BigInt(v)));
    const name = this.fresh(hint);
    this.inits.push({
      name,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      rawData: new Uint8Array(buf.buffer),
    });
    return name;
  }

  /** Adds a node; returns its (first) output name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue | FloatAttr> = {}, out?: string): string {
    const output = out ?? this.fresh(op.toLowerCase());
    this.nodes.push({
      opType: op,
      name: `${op}_${this.nodes.length}`,
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /**
   * A builder for a subgraph of this graph (a Loop or Scan body). It shares this
   * graph's tensor names, so names stay unique across the scopes as ONNX
   * requires, and its nodes may read this graph's tensors by name.
   */
  subgraph(name: string): GraphBuilder {
    const body = new GraphBuilder(name);
    body.names = this.names;
    return body;
  }

  /** An input of another element type (a Loop body's iteration number and condition), dims [] for a scalar. */
  typedInput(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dims, type));
    return name;
  }

  /** Marks `tensor` as an output of another element type (a Loop body's condition). */
  typedOutput(tensor: string, name: string, type: ElemType, dims: Dim[]): string {
    if (tensor !== name) this.node('Identity', [tensor], {}, this.claim(name));
    this.outputs.push(valueInfo(name, dims, type));
    return name;
  }

  /** An int64 scalar constant (shape []): a Loop's trip count. */
  intScalar(value: number, hint = 'i'): string {
    const name = this.fresh(hint);
    this.inits.push({ name, dims: [], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(new BigInt64Array([BigInt(value)]).buffer) });
    return name;
  }

  /**
   * Loop (opset 13) over `trips` iterations with no condition input: `body`
   * takes (iteration number, condition, ...carried) and gives (condition,
   * ...carried, ...scanned). Returns the final carried values, then each
   * scanned output stacked over the iterations on a new first axis.
   */
  loop(trips: number, carried: string[], body: GraphBuilder, scanned: number): string[] {
    const outs = Array.from({ length: carried.length + scanned }, () => this.fresh('loop'));
    this.nodes.push({
      opType: 'Loop',
      name: `Loop_${this.nodes.length}`,
      input: [this.intScalar(trips, 'trips'), '', ...carried],
      output: outs,
      attribute: [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body.graph() }],
    });
    return outs;
  }

  /**
   * Scan (opset 11+) over the first axis of `scanned` inputs, all of one
   * length: `body` takes (...state, ...one slice of each) and gives (...state,
   * ...per-iteration outputs). Returns the final states, then each
   * per-iteration output stacked on a new first axis. Unlike Loop, the body
   * gets its slices without a Gather per iteration.
   */
  scan(state: string[], scanned: string[], body: GraphBuilder, outputs: number): string[] {
    const outs = Array.from({ length: state.length + outputs }, () => this.fresh('scan'));
    this.nodes.push({
      opType: 'Scan',
      name: `Scan_${this.nodes.length}`,
      input: [...state, ...scanned],
      output: outs,
      attribute: [
        { name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body.graph() },
        attribute('num_scan_inputs', scanned.length),
      ],
    });
    return outs;
  }

  /** The graph itself, as a subgraph attribute holds it. */
  private graph(): import('onnx-proto').onnx.IGraphProto {
    return { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs };
  }

  /**
   * Serialises the graph as an IR-8 / opset-13 model. With `weights: 'float16'`
   * every float initializer of at least HALF_MIN_SIZE values is stored as
   * float16 and cast back to float32 by a Cast node at the top of the graph:
   * the file halves, arithmetic stays float32 (so every execution provider,
   * including wasm without fp16 kernels, runs it), and the only error is the
   * rounding of each weight to 11 significant bits.
   */
  toBytes(doc = '', opts: { weights?: WeightPrecision } = {}): Uint8Array {
    let inits = this.inits;
    let nodes = this.nodes;
    if (opts.weights === 'int8') ({ inits, nodes } = quantizeInt8(this.inits, this.nodes));
    if (opts.weights === 'float16') {
      const casts: INode[] = [];
      inits = this.inits.map((t) => {
        const count = (t.dims as number[]).reduce((a, b) => a * Number(b), 1);
        if (t.dataType !== onnx.TensorProto.DataType.FLOAT || count < HALF_MIN_SIZE) return t;
        const raw = t.rawData as Uint8Array;
        const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        const half = Uint16Array.from(f, toHalfBits);
        casts.push({ opType: 'Cast', name: `Cast_${t.name}`, input: [`${t.name}_f16`], output: [t.name as string], attribute: [attribute('to', onnx.TensorProto.DataType.FLOAT)] });
        return { ...t, name: `${t.name}_f16`, dataType: onnx.TensorProto.DataType.FLOAT16, rawData: new Uint8Array(half.buffer) };
      });
      nodes = [...casts, ...this.nodes];
    }
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'edgegen',
      producerVersion: '0.1.0',
      docString: doc,
      graph: {
        name: this.name,
        node: nodes,
        initializer: inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/**
 * How a graph's weights are stored: float32; float16 (cast back at the top of
 * the graph, float32 arithmetic); int8 (`quantizeInt8`).
 */
export type WeightPrecision = 'float32' | 'float16' | 'int8';

/**
 * The int8 copy of a graph: every float initializer of at least HALF_MIN_SIZE
 * values and rank >= 2 is stored as int8 with one float32 scale per output
 * channel (symmetric: scale = max |w| / 127, no zero point), so the file is
 * about a quarter of the float32 one. Where such a weight is only ever the
 * right operand of top-level 2-D MatMuls, each of those multiplies on
 * onnxruntime's integer kernels (MatMulInteger, int32 sums): the activations
 * are quantised per run to uint8 with one scale per row (per sample, so a
 * row's answer does not depend on what it is batched with, which
 * DynamicQuantizeLinear's one scale per tensor would break) and the sums
 * scaled back to float32. Every other weight (a convolution's, one read inside a
 * Loop or Scan body) is cast back to float32 and scaled at the top of the
 * graph, a constant that onnxruntime folds when the session opens: smaller
 * file, float32 arithmetic. The channel is the output one: a MatMul weight's
 * last axis, a Conv weight's first, a ConvTranspose weight's second.
 */
export function quantizeInt8(inits: ITensor[], nodes: INode[]): { inits: ITensor[]; nodes: INode[] } {
  const T = onnx.TensorProto.DataType;
  const uses = new Map<string, Array<{ op: string; slot: number; top: boolean }>>();
  const visit = (list: INode[], top: boolean) => {
    for (const n of list) {
      (n.input ?? []).forEach((name, slot) => {
        if (!uses.has(name)) uses.set(name, []);
        uses.get(name)!.push({ op: n.opType as string, slot, top });
      });
      for (const a of n.attribute ?? []) if (a.g) visit(a.g.node ?? [], false);
    }
  };
  visit(nodes, true);
  const dynamic = new Map<string, { q: string; scale: string }>();
  const prologue: INode[] = [];
  const out: ITensor[] = [];
  for (const t of inits) {
    const dims = (t.dims as number[]).map(Number);
    const count = dims.reduce((a, b) => a * b, 1);
    const used = uses.get(t.name as string) ?? [];
    if (t.dataType !== T.FLOAT || count < HALF_MIN_SIZE || dims.length < 2 || used.length === 0) {
      out.push(t);
      continue;
    }
    const axis = used.some((u) => u.op === 'Conv' && u.slot === 1) ? 0 : used.some((u) => u.op === 'ConvTranspose' && u.slot === 1) ? 1 : dims.length - 1;
    const raw = t.rawData as Uint8Array;
    const w = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const { q, scales } = int8PerChannel(w, dims, axis);
    const name = t.name as string;
    out.push({ name: `${name}_q`, dims, dataType: T.INT8, rawData: new Uint8Array(q.buffer) });
    const scaleDims = dims.length === 2 && axis === 1 ? [dims[1]] : dims.map((d, i) => (i === axis ? d : 1));
    out.push({ name: `${name}_scale`, dims: scaleDims, dataType: T.FLOAT, rawData: new Uint8Array(scales.buffer) });
    if (dims.length === 2 && used.every((u) => u.top && u.op === 'MatMul' && u.slot === 1)) {
      dynamic.set(name, { q: `${name}_q`, scale: `${name}_scale` });
    } else {
      prologue.push(
        { opType: 'Cast', name: `Cast_${name}`, input: [`${name}_q`], output: [`${name}_f`], attribute: [attribute('to', T.FLOAT)] },
        { opType: 'Mul', name: `Dequantize_${name}`, input: [`${name}_f`, `${name}_scale`], output: [name], attribute: [] },
      );
    }
  }
  // per-row activation scales: |x| <= 127 s, x ~ (q - 128) s, s = max |x_row| / 127 over each row (the
  // first axis: one sample), so a row's answer never depends on the rows batched with it
  const shared: ITensor[] = [
    { name: 'int8_zero_point', dims: [], dataType: T.UINT8, rawData: new Uint8Array([128]) },
    { name: 'int8_offset', dims: [], dataType: T.FLOAT, rawData: new Uint8Array(new Float32Array([128]).buffer) },
    { name: 'int8_levels', dims: [], dataType: T.FLOAT, rawData: new Uint8Array(new Float32Array([127]).buffer) },
    { name: 'int8_tiny', dims: [], dataType: T.FLOAT, rawData: new Uint8Array(new Float32Array([1e-30]).buffer) },
  ];
  const body: INode[] = [];
  for (const n of nodes) {
    const wq = n.opType === 'MatMul' ? dynamic.get((n.input as string[])[1]) : undefined;
    if (!wq) {
      body.push(n);
      continue;
    }
    const [x] = n.input as string[];
    const y = (n.output as string[])[0];
    const at = (s: string) => `${y}_${s}`;
    const op = (opType: string, input: string[], output: string, attrs: IAttribute[] = []) => body.push({ opType, name: `${n.name}_${output.slice(y.length + 1)}`, input, output: [output], attribute: attrs });
    op('Flatten', [x], at('rows'), [attribute('axis', 1)]);
    op('Abs', [at('rows')], at('abs'));
    op('ReduceMax', [at('abs')], at('peak'), [attribute('axes', [1]), attribute('keepdims', 1)]);
    op('Max', [at('peak'), 'int8_tiny'], at('peak1'));
    op('Div', [at('peak1'), 'int8_levels'], at('xscale'));
    op('Div', [at('rows'), at('xscale')], at('steps'));
    op('Round', [at('steps')], at('rounded'));
    op('Add', [at('rounded'), 'int8_offset'], at('shifted'));
    op('Cast', [at('shifted')], at('q8'), [attribute('to', T.UINT8)]);
    op('Shape', [x], at('shape'));
    op('Reshape', [at('q8'), at('shape')], at('xq'));
    op('MatMulInteger', [at('xq'), wq.q, 'int8_zero_point'], at('acc'));
    op('Cast', [at('acc')], at('accf'), [attribute('to', T.FLOAT)]);
    op('Shape', [at('accf')], at('outshape'));
    op('Flatten', [at('accf')], at('accrows'), [attribute('axis', 1)]);
    op('Mul', [at('accrows'), at('xscale')], at('rowscaled'));
    op('Reshape', [at('rowscaled'), at('outshape')], at('unflat'));
    body.push({ opType: 'Mul', name: `${n.name}_scaled`, input: [at('unflat'), wq.scale], output: [y], attribute: [] });
  }
  if (dynamic.size) out.push(...shared);
  return { inits: out, nodes: [...prologue, ...body] };
}

/** Symmetric per-channel int8 of `w` (shape `dims`) along `axis`: q in [-127, 127], w ~ q * scales[channel]. */
export function int8PerChannel(w: Float32Array, dims: number[], axis: number): { q: Int8Array; scales: Float32Array } {
  const C = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channel = (i: number) => Math.floor(i / inner) % C;
  const scales = new Float32Array(C);
  w.forEach((v, i) => (scales[channel(i)] = Math.max(scales[channel(i)], Math.abs(v))));
  scales.forEach((m, c) => (scales[c] = m > 0 ? m / 127 : 1));
  const q = Int8Array.from(w, (v, i) => Math.max(-127, Math.min(127, Math.round(v / scales[channel(i)]))));
  return { q, scales };
}

/** Initializers smaller than this stay float32 (biases of tiny nets, masks, scalars): not worth a Cast. */
export const HALF_MIN_SIZE = 256;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a float32 value, rounding to nearest, ties to even. */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const e32 = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (e32 === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, NaN
  const e = e32 - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  let shift = 13;
  let bits: number;
  if (e <= 0) {
    // subnormal half: the implicit 1 becomes explicit and shifts right
    if (e < -10) return sign;
    mant |= 0x800000;
    shift = 14 - e;
    bits = 0;
  } else bits = e << 10;
  let h = bits | (mant >>> shift);
  const rem = mant & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  // a carry out of the mantissa correctly bumps the exponent (up to infinity)
  if (rem > halfway || (rem === halfway && (h & 1))) h++;
  return sign | h;
}

/** Element types of graph inputs and outputs: float32 everywhere, int64 and bool in Loop bodies. */
export type ElemType = 'float' | 'int64' | 'bool';
const ELEM_TYPES: Record<ElemType, number> = { float: onnx.TensorProto.DataType.FLOAT, int64: onnx.TensorProto.DataType.INT64, bool: onnx.TensorProto.DataType.BOOL };

function valueInfo(name: string, dims: Dim[], type: ElemType = 'float'): IValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM_TYPES[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue | FloatAttr): IAttribute {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof FloatAttr) return { name, type: T.FLOAT, f: v.value };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    return v.every(Number.isInteger) ? { name, type: T.INTS, ints: v } : { name, type: T.FLOATS, floats: v };
  }
  return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
}
