/**
 * The wire contract as one JSON document, generated from the zod declarations in `protocol.ts`
 * and `protocol-tensors.ts` and checked in as `py_backend/mgsd_backend/contract/protocol.schema.json`
 * (`npm run gen:contract` writes it; `contract.test.ts` fails while it is stale).
 *
 * The Python worker reads only that file: op names, version, vocabularies, each op's arguments
 * and result as JSON Schema (draft 2020-12), its request/reply tensor specs, and the envelope
 * (hello, reply header) the client parses (`headers.ts`). Keys are
 * snake_case, like the wire. The text is deterministic (no dates, no paths), so regenerating
 * an unchanged contract leaves the file byte for byte as it was.
 */
import { z } from 'zod';

import { DTYPES } from './codec.js';
import { HelloSchema, ReplyHeaderSchema } from './headers.js';
import {
  ARGS_SCHEMAS,
  ESTIMATORS,
  HELLO,
  KL_KINDS,
  MAX_MESSAGE_MIB,
  MODEL_DTYPES,
  OP,
  RANK_EXIT_CODES,
  type OpName,
  PROTOCOL_VERSION,
  REPLY_TENSORS,
  REQUEST_TENSORS,
  RESULT_SCHEMAS,
  SCORE_MODES,
  SERVER_OPS,
  type TensorSpec,
  WIRE_TEACHER_TENSORS,
} from './protocol.js';

/** Where the generated contract lives, relative to the project root. */
export const CONTRACT_PATH = 'py_backend/mgsd_backend/contract/protocol.schema.json';
/** The command that regenerates every generated file. */
export const GEN_COMMAND = 'npm run gen:contract';

/** A tensor spec as the contract file writes it. */
export interface TensorSpecJson {
  dtype: string;
  ranks: number[];
  required: boolean;
  same_shape_as?: string;
  last_dim?: number;
}

/** One op of the contract file. */
export interface OpContract {
  args: Record<string, unknown>;
  result: Record<string, unknown>;
  /** null: any tensors (echo). */
  request_tensors: Record<string, TensorSpecJson> | null;
  reply_tensors: Record<string, TensorSpecJson> | null;
}

/** The whole contract file. */
export interface Contract {
  $comment: string;
  version: number;
  hello: string;
  max_message_mib: number;
  server_ops: string[];
  /** Exit statuses by which a group's rank says why it left (`RANK_EXIT_CODES`). */
  rank_exit_codes: Readonly<Record<string, number>>;
  vocab: Record<string, readonly string[]>;
  wire_teacher_tensors: Record<string, readonly string[]>;
  /** Frame 0 beyond the ops: the worker's hello and a reply header (its `result` is per op). */
  envelope: { hello: Record<string, unknown>; reply_header: Record<string, unknown> };
  ops: Record<OpName, OpContract>;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'throw' }) as Record<string, unknown>;
  delete out.$schema; // stated once at the top of the file's description instead
  return out;
}

function tensorSpecs(specs: Readonly<Record<string, TensorSpec>>, any: boolean): Record<string, TensorSpecJson> | null {
  if (any) return null;
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => {
      const json: TensorSpecJson = { dtype: spec.dtype, ranks: [...spec.ranks], required: spec.required };
      if (spec.sameShapeAs !== undefined) json.same_shape_as = spec.sameShapeAs;
      if (spec.lastDim !== undefined) json.last_dim = spec.lastDim;
      return [name, json];
    }),
  );
}

/** The contract, built from the zod declarations. */
export function buildContract(): Contract {
  const ops = Object.fromEntries(
    Object.values(OP).map((op) => [
      op,
      {
        args: jsonSchema(ARGS_SCHEMAS[op], 'input'),
        result: jsonSchema(RESULT_SCHEMAS[op], 'output'),
        request_tensors: tensorSpecs(REQUEST_TENSORS[op], op === OP.echo),
        reply_tensors: tensorSpecs(REPLY_TENSORS[op], op === OP.echo),
      },
    ]),
  ) as Record<OpName, OpContract>;
  return {
    $comment: `Generated from src/backend/protocol.ts by \`${GEN_COMMAND}\`; do not edit. Schemas are JSON Schema draft 2020-12.`,
    version: PROTOCOL_VERSION,
    hello: HELLO,
    max_message_mib: MAX_MESSAGE_MIB,
    server_ops: [...SERVER_OPS],
    rank_exit_codes: RANK_EXIT_CODES,
    vocab: { estimators: ESTIMATORS, score_modes: SCORE_MODES, model_dtypes: MODEL_DTYPES, kl_kinds: KL_KINDS, tensor_dtypes: DTYPES },
    wire_teacher_tensors: WIRE_TEACHER_TENSORS,
    envelope: { hello: jsonSchema(HelloSchema, 'output'), reply_header: jsonSchema(ReplyHeaderSchema, 'output') },
    ops,
  };
}

/** The contract file's exact text. */
export function contractText(): string {
  return `${JSON.stringify(buildContract(), null, 2)}\n`;
}
