/**
 * Wire format (Tensor ⇄ Arrow IPC) against the golden files both sides share.
 *
 * Every `fixtures/golden/wire/<case>.json` envelope has two streams: `<case>.js.arrows` (written
 * here) and `<case>.py.arrows` (written by `py_backend/mgsd_backend/wire.py`). This suite decodes
 * BOTH, checks dtype, shape and values against the envelope, and re-encodes the envelope on the
 * TypeScript side byte for byte. `UPDATE_GOLDEN=1` rewrites the `.js.arrows` files (review them).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  Field,
  FixedSizeList,
  Float32,
  Float64,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  type Data,
  type DataType,
} from 'apache-arrow';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ProtocolError } from '../errors.js';
import { decodeTensors, DTYPES, type DType, encodeTensors, type Tensor, type Tensors, tensor } from './codec.js';
import { PROJECT_ROOT } from './interpreter.js';
import { ReplyHeaderSchema } from './headers.js';

const GOLDEN = join(PROJECT_ROOT, 'fixtures', 'golden', 'wire');
const CASES = readdirSync(GOLDEN)
  .filter((name) => name.endsWith('.json'))
  .map((name) => name.slice(0, -'.json'.length))
  .sort();
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Envelope {
  header: Record<string, unknown>;
  tensors: Record<string, { dtype: DType; shape: number[]; values: Array<number | string | boolean> }>;
}

function readEnvelope(name: string): Envelope {
  return JSON.parse(readFileSync(join(GOLDEN, `${name}.json`), 'utf8')) as Envelope;
}

function tensorsOf(envelope: Envelope): Tensors {
  const out: Tensors = {};
  for (const [name, { dtype, shape, values }] of Object.entries(envelope.tensors)) {
    const data =
      dtype === 'int64'
        ? BigInt64Array.from(values, (v) => BigInt(v as string))
        : dtype === 'bool'
          ? Uint8Array.from(values, (v) => (v ? 1 : 0))
          : dtype === 'float32'
            ? Float32Array.from(values, (v) => Number(v)) // "NaN", "Infinity", "-Infinity" included
            : dtype === 'int32'
              ? Int32Array.from(values as number[])
              : Uint8Array.from(values as number[]);
    out[name] = tensor(dtype, shape, data);
  }
  return out;
}

/** Element values as comparable numbers/strings: float32 by bit pattern (NaN = NaN, -0 ≠ 0). */
function comparable(value: Tensor): Array<number | string> {
  if (value.data instanceof Float32Array) return Array.from(new Uint32Array(Float32Array.from(value.data).buffer));
  if (value.data instanceof BigInt64Array) return Array.from(value.data, (v) => v.toString());
  return Array.from(value.data as ArrayLike<number>);
}

function expectMatches(decoded: Tensors, envelope: Envelope, where: string): void {
  const expected = tensorsOf(envelope);
  expect(Object.keys(decoded), where).toEqual(Object.keys(expected));
  for (const [name, want] of Object.entries(expected)) {
    const got = decoded[name]!;
    expect([got.dtype, got.shape], `${where}: ${name}`).toEqual([want.dtype, want.shape]);
    expect(comparable(got), `${where}: ${name} values`).toEqual(comparable(want));
  }
}

function joined(frames: Uint8Array[]): Buffer {
  return Buffer.concat(frames);
}

describe('golden wire files', () => {
  it.each(CASES.flatMap((name) => [[name, 'js'] as const, [name, 'py'] as const]))('decodes %s.%s.arrows', (name, side) => {
    const path = join(GOLDEN, `${name}.${side}.arrows`);
    expect(existsSync(path), `${path} is missing: run the ${side} side's tests with UPDATE_GOLDEN=1`).toBe(true);
    const envelope = readEnvelope(name);
    expectMatches(decodeTensors([readFileSync(path)]), envelope, path);
    if ('ok' in envelope.header) ReplyHeaderSchema.parse(envelope.header);
  });

  it.each(CASES)('re-encodes %s.js.arrows byte for byte', (name) => {
    const path = join(GOLDEN, `${name}.js.arrows`);
    const encoded = joined(encodeTensors(tensorsOf(readEnvelope(name))));
    if (UPDATE) writeFileSync(path, encoded);
    expect(encoded.equals(readFileSync(path)), `${path} differs from what encodeTensors writes now`).toBe(true);
    expect(joined(encodeTensors(decodeTensors([readFileSync(path)]))).equals(encoded)).toBe(true);
  });
});

describe('codec', () => {
  it('decoding views the frame instead of copying it', () => {
    const frame = joined(encodeTensors({ x: tensor('float32', [4, 256], new Float32Array(1024).fill(2.5)) }));
    const decoded = decodeTensors([frame]).x!;
    expect(decoded.data.buffer).toBe(frame.buffer);
    expect(decoded.data.byteOffset).toBeGreaterThanOrEqual(frame.byteOffset);
  });

  it('several frames form one stream', () => {
    const bytes = joined(encodeTensors({ ids: tensor('int64', [3], BigInt64Array.of(1n, -2n, 3n)) }));
    const decoded = decodeTensors([bytes.subarray(0, 7), bytes.subarray(7, 90), bytes.subarray(90)]);
    expect(Array.from(decoded.ids!.data as BigInt64Array)).toEqual([1n, -2n, 3n]);
  });

  it('no tensors is no frames, and no frames is no tensors', () => {
    expect(encodeTensors({})).toEqual([]);
    expect(decodeTensors([])).toEqual({});
  });

  it.each([
    [() => tensor('float32', [2, 3], new Float32Array(5)), /tensor tensor\(\): shape \[2,3\] needs 6 elements, data has 5/],
    [() => tensor('int64', [2], new Int32Array(2) as never), /dtype int64 needs a BigInt64Array, got Int32Array/],
    [() => tensor('float32', [], new Float32Array(1)), /shape \[\] has no batch dimension/],
    [() => tensor('uint8', [2, 0], new Uint8Array(0)), /per-row shape \[0\] has a 0; per-row dimensions must be >= 1/],
    [() => tensor('float16' as DType, [1], new Float32Array(1)), /dtype "float16" is not one of float32, int64, int32, uint8, bool/],
    [
      () => encodeTensors({ a: tensor('float32', [2], new Float32Array(2)), b: tensor('float32', [3], new Float32Array(3)) }),
      /tensors disagree on the batch size \(dimension 0\): a \[2\], b \[3\]/,
    ],
  ])('refuses a tensor the wire cannot carry (%#)', (build, message) => {
    expect(build).toThrow(ProtocolError);
    expect(build).toThrow(message);
  });

  function stream(field: Field, data: Data, batches = 1): Uint8Array {
    const schema = new Schema([field]);
    const batch = new RecordBatch(schema, makeData({ type: new Struct([field]), length: data.length, nullCount: 0, children: [data] }));
    return RecordBatchStreamWriter.writeAll(Array.from({ length: batches }, () => batch)).toUint8Array(true);
  }
  const extension = (shape: string) =>
    new Map([
      ['ARROW:extension:name', 'arrow.fixed_shape_tensor'],
      ['ARROW:extension:metadata', shape],
    ]);
  function column(type: DataType, values: Float32Array | Float64Array, listSize: number, meta: Map<string, string> | null) {
    const child = makeData({ type, length: values.length, nullCount: 0, data: values } as never) as Data;
    const listType = new FixedSizeList(listSize, new Field('item', type, false));
    const data = makeData({ type: listType, length: values.length / listSize, nullCount: 0, child });
    return { field: new Field('t', listType, false, meta), data };
  }

  it.each([
    ['no extension metadata', column(new Float32(), new Float32Array(2), 2, null), 1, /extension name is null, expected "arrow.fixed_shape_tensor"/],
    ['a float64 element type', column(new Float64(), new Float64Array(2), 2, extension('{"shape":[2]}')), 1, /element type Float64 is not one of/],
    ['a shape that disagrees with the list size', column(new Float32(), new Float32Array(2), 2, extension('{"shape":[3]}')), 1, /shape \[3\] does not match list size 2/],
    ['a permutation', column(new Float32(), new Float32Array(2), 2, extension('{"shape":[2],"permutation":[0]}')), 1, /no permutation or dim_names/],
    ['metadata that is not JSON', column(new Float32(), new Float32Array(2), 2, extension('shape=2')), 1, /"shape=2" is not JSON/],
    ['two record batches', column(new Float32(), new Float32Array(2), 2, extension('{"shape":[2]}')), 2, /hold 2 record batches; expected exactly 1/],
  ])('decoding refuses %s with a ProtocolError', (_, { field, data }, batches, message) => {
    const bytes = stream(field, data, batches);
    expect(() => decodeTensors([bytes])).toThrow(ProtocolError);
    expect(() => decodeTensors([bytes])).toThrow(message);
  });

  it('decoding refuses bytes that are not an Arrow stream', () => {
    expect(() => decodeTensors([Buffer.from('not arrow at all, really not')])).toThrow(/not a valid Arrow IPC stream \(28 bytes\)/);
  });

  it('round-trips random tensors of every dtype (property)', () => {
    const shapes = fc.tuple(fc.integer({ min: 0, max: 4 }), fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }));
    fc.assert(
      fc.property(fc.constantFrom(...DTYPES), shapes, fc.integer(), (dtype, [rows, rowShape], seed) => {
        const shape = [rows, ...rowShape];
        const n = shape.reduce((a, b) => a * b, 1);
        const ints = Array.from({ length: n }, (_, i) => ((seed + i * 2654435761) | 0) >> 3);
        const data = {
          float32: () => Float32Array.from(ints, (v) => v / 7),
          int64: () => BigInt64Array.from(ints, (v) => BigInt(v) * 4_294_967_297n),
          int32: () => Int32Array.from(ints),
          uint8: () => Uint8Array.from(ints, (v) => v & 255),
          bool: () => Uint8Array.from(ints, (v) => v & 1),
        }[dtype]();
        const original = { t: tensor(dtype, shape, data as never), other: tensor('int32', [rows], new Int32Array(rows)) };
        const decoded = decodeTensors(encodeTensors(original)).t!;
        expect([decoded.dtype, decoded.shape]).toEqual([dtype, shape]);
        expect(comparable(decoded)).toEqual(comparable(original.t));
      }),
      { numRuns: 80, seed: 20260606 },
    );
  });
});
