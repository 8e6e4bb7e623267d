/**
 * Tensors ⇄ Arrow IPC frames: the tensor part of a bridge message (docs/protocol.md, "Tensors").
 *
 * A message's frames 1..n, concatenated, form ONE Arrow IPC stream holding ONE record batch. Rows
 * are the batch dimension shared by every tensor; each column is Arrow's canonical
 * `arrow.fixed_shape_tensor` extension over `FixedSizeList<T>[prod(shape)]` with the per-row shape
 * in the extension metadata (`{"shape":[...]}`; a per-row scalar has shape `[]`, list size 1; per-row
 * dimensions are >= 1, as Arrow has no empty fixed-size lists, while the batch may be empty);
 * element types float32, int64, int32, uint8, bool (bit-packed, as Arrow stores booleans);
 * little-endian; no nulls, no dictionaries. Mirror: `py_backend/mgsd_backend/wire.py`; golden
 * files in `fixtures/golden/wire/` keep the two sides byte-honest.
 *
 * Copies: encoding builds Arrow `Data` directly over the tensors' typed arrays and returns the
 * writer's chunks as frames: large bodies are views of the tensors' memory (zeromq sends them
 * without copying; do not modify a tensor until its request has settled), small pieces are joined.
 * Decoding a single frame is zero-copy: a tensor's `data` views the received frame (apache-arrow
 * copies only a buffer misaligned for its element type); several frames are joined first.
 * Booleans are the exception both ways (bit-packing). Anything outside the conventions is a
 * `ProtocolError` that names the tensor, what was found and what was expected.
 */
import {
  Bool,
  type Data,
  type DataType,
  Field,
  FixedSizeList,
  type Float,
  Float32,
  type Int,
  Int32,
  Int64,
  makeData,
  Precision,
  RecordBatch,
  RecordBatchReader,
  Schema,
  Struct,
  Type,
  Uint8,
} from 'apache-arrow';

import { ProtocolError } from '../errors.js';
import { FrameWriter } from './frame-writer.js';

/** The element types the wire carries. */
export const DTYPES = ['float32', 'int64', 'int32', 'uint8', 'bool'] as const;
/** One of `DTYPES`. */
export type DType = (typeof DTYPES)[number];

/** The typed array holding each dtype's elements (bool: one byte per element, 0 or 1). */
export interface TypedArrayOf {
  float32: Float32Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

/** A dense row-major tensor; `shape[0]` is the batch (rows) dimension. */
export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: TypedArrayOf[D];
}

/** A message's tensors by name, in column order. */
export type Tensors = Record<string, Tensor>;

/** Arrow's canonical extension every tensor column carries. */
export const EXTENSION_NAME = 'arrow.fixed_shape_tensor';
const EXTENSION_NAME_KEY = 'ARROW:extension:name';
const EXTENSION_METADATA_KEY = 'ARROW:extension:metadata';

const ARRAY_TYPES = {
  float32: Float32Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

/** Builds a tensor, checking that `data` has the dtype's array type and `prod(shape)` elements. */
export function tensor<D extends DType>(dtype: D, shape: number[], data: TypedArrayOf[D]): Tensor<D> {
  const value = { dtype, shape, data } as Tensor<D>;
  checkTensor('tensor()', value);
  return value;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Tensors → the tensor frames of a message (`[]` when there are none). */
export function encodeTensors(tensors: Tensors): Uint8Array[] {
  const entries = Object.entries(tensors);
  if (entries.length === 0) return [];
  for (const [name, value] of entries) checkTensor(name, value);
  const rows = commonRows(entries);
  const fields: Field[] = [];
  const columns: Data[] = [];
  for (const [name, value] of entries) {
    const { field, data } = encodeColumn(name, value, rows);
    fields.push(field);
    columns.push(data);
  }
  const schema = new Schema(fields);
  const struct = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children: columns });
  return new FrameWriter().writeAll([new RecordBatch(schema, struct)]).frames();
}

/** The tensor frames of a message → tensors by name. Throws `ProtocolError` on anything off-spec. */
export function decodeTensors(frames: readonly Uint8Array[]): Tensors {
  if (frames.length === 0) return {};
  const bytes = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
  let batches: RecordBatch[];
  try {
    batches = [...RecordBatchReader.from(bytes)];
  } catch (error) {
    throw new ProtocolError('bad_frames', `tensor frames are not a valid Arrow IPC stream (${bytes.length} bytes)`, {
      cause: error,
      hint: 'Frames 1..n of a message must form ONE Arrow IPC stream (docs/protocol.md, Tensors).',
    });
  }
  if (batches.length !== 1) {
    throw new ProtocolError('bad_frames', `tensor frames hold ${batches.length} record batches; expected exactly 1`);
  }
  const batch = batches[0]!;
  const out: Tensors = {};
  batch.schema.fields.forEach((field, i) => {
    out[field.name] = decodeColumn(field, batch.data.children[i]!);
  });
  return out;
}

function checkTensor(name: string, value: Tensor): void {
  const fail = (what: string): never => {
    throw new ProtocolError('bad_tensor', `tensor ${name}: ${what}`, {
      hint: 'Build tensors with tensor(dtype, shape, data) from src/backend/codec.ts.',
    });
  };
  const arrayType = ARRAY_TYPES[value.dtype as DType];
  if (arrayType === undefined) fail(`dtype ${JSON.stringify(value.dtype)} is not one of ${DTYPES.join(', ')}`);
  if (!(value.data instanceof arrayType)) {
    fail(`dtype ${value.dtype} needs a ${arrayType.name}, got ${value.data?.constructor?.name ?? typeof value.data}`);
  }
  if (value.shape.length === 0) fail('shape [] has no batch dimension; shape[0] must be the rows');
  if (!value.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`shape ${JSON.stringify(value.shape)} is not made of integers >= 0`);
  if (value.shape.slice(1).includes(0)) {
    // NOTE: Arrow's FixedSizeList needs list size >= 1; only the batch dimension may be 0.
    fail(`per-row shape [${value.shape.slice(1).join(', ')}] has a 0; per-row dimensions must be >= 1`);
  }
  if (value.data.length !== sizeOf(value.shape)) {
    fail(`shape ${JSON.stringify(value.shape)} needs ${sizeOf(value.shape)} elements, data has ${value.data.length}`);
  }
}

function commonRows(entries: Array<[string, Tensor]>): number {
  const rows = new Set(entries.map(([, value]) => value.shape[0]!));
  if (rows.size > 1) {
    const shapes = entries.map(([name, value]) => `${name} [${value.shape.join(', ')}]`).join(', ');
    throw new ProtocolError('bad_tensor', `tensors disagree on the batch size (dimension 0): ${shapes}`, {
      hint: 'Every tensor of one message has the same rows: one per sample.',
    });
  }
  return entries[0]![1].shape[0]!;
}

function arrowType(dtype: DType): DataType {
  switch (dtype) {
    case 'float32':
      return new Float32();
    case 'int64':
      return new Int64();
    case 'int32':
      return new Int32();
    case 'uint8':
      return new Uint8();
    case 'bool':
      return new Bool();
  }
}

function encodeColumn(name: string, value: Tensor, rows: number): { field: Field; data: Data } {
  const rowShape = value.shape.slice(1);
  const listSize = sizeOf(rowShape);
  const elementType = arrowType(value.dtype);
  const elements = value.dtype === 'bool' ? packBits(value.data as Uint8Array) : value.data;
  // makeData's overloads are keyed on the concrete type class; the union here is checked above.
  const child = makeData({ type: elementType, length: value.data.length, nullCount: 0, data: elements } as never);
  const listType = new FixedSizeList(listSize, new Field('item', elementType, false));
  const data = makeData({ type: listType, length: rows, nullCount: 0, child });
  const metadata = new Map([
    [EXTENSION_NAME_KEY, EXTENSION_NAME],
    [EXTENSION_METADATA_KEY, JSON.stringify({ shape: rowShape })],
  ]);
  return { field: new Field(name, listType, false, metadata), data };
}

function decodeColumn(field: Field, data: Data): Tensor {
  const fail = (what: string): never => {
    throw new ProtocolError('bad_tensor', `tensor ${field.name}: ${what}`, {
      hint: `Every tensor column must be a FixedSizeList carrying the ${EXTENSION_NAME} extension metadata (docs/protocol.md).`,
    });
  };
  if (field.metadata.get(EXTENSION_NAME_KEY) !== EXTENSION_NAME) {
    fail(`extension name is ${JSON.stringify(field.metadata.get(EXTENSION_NAME_KEY) ?? null)}, expected "${EXTENSION_NAME}"`);
  }
  if (data.type.typeId !== Type.FixedSizeList) fail(`storage type is ${String(data.type)}, expected FixedSizeList`);
  const rowShape = parseRowShape(field.metadata.get(EXTENSION_METADATA_KEY), fail);
  const listSize = (data.type as FixedSizeList).listSize;
  if (sizeOf(rowShape) !== listSize) fail(`shape [${rowShape.join(', ')}] does not match list size ${listSize}`);
  const child = data.children[0]!;
  const dtype = dtypeOf(child.type) ?? fail(`element type ${String(child.type)} is not one of ${DTYPES.join(', ')}`);
  if (data.nullCount > 0 || child.nullCount > 0) fail('holds nulls; the wire format has none');
  const count = data.length * listSize;
  const start = child.offset + data.offset * listSize;
  const values = dtype === 'bool' ? unpackBits(child.values as Uint8Array, start, count) : child.values.subarray(start, start + count);
  return { dtype, shape: [data.length, ...rowShape], data: values } as Tensor;
}

function parseRowShape(raw: string | undefined, fail: (what: string) => never): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw ?? '');
  } catch {
    return fail(`extension metadata ${JSON.stringify(raw ?? null)} is not JSON`);
  }
  const record = parsed as { shape?: unknown } | null;
  const keys = typeof record === 'object' && record !== null ? Object.keys(record) : [];
  const shape = record?.shape;
  if (keys.length !== 1 || !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    return fail(`extension metadata ${raw} is not {"shape": [non-negative integers]} (no permutation or dim_names)`);
  }
  return shape as number[];
}

function dtypeOf(type: DataType): DType | undefined {
  if (type.typeId === Type.Bool) return 'bool';
  if (type.typeId === Type.Float) return (type as Float).precision === Precision.SINGLE ? 'float32' : undefined;
  if (type.typeId !== Type.Int) return undefined;
  const { bitWidth, isSigned } = type as Int;
  if (bitWidth === 64 && isSigned) return 'int64';
  if (bitWidth === 32 && isSigned) return 'int32';
  if (bitWidth === 8 && !isSigned) return 'uint8';
  return undefined;
}

/** One byte per element (0 = false) → Arrow's LSB-first bitmap. */
function packBits(bytes: Uint8Array): Uint8Array {
  const bits = new Uint8Array(Math.ceil(bytes.length / 8));
  for (let i = 0; i < bytes.length; i += 1) {
    if (bytes[i] !== 0) bits[i >> 3]! |= 1 << (i & 7);
  }
  return bits;
}

/** Arrow's LSB-first bitmap, from bit `start` → `count` bytes of 0/1. */
function unpackBits(bits: Uint8Array, start: number, count: number): Uint8Array {
  const bytes = new Uint8Array(count);
  for (let i = 0; i < count; i += 1) {
    const bit = start + i;
    bytes[i] = (bits[bit >> 3]! >> (bit & 7)) & 1;
  }
  return bytes;
}
