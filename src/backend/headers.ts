/**
 * Frame 0 of every bridge message (docs/protocol.md, "Framing" and "Handshake"): the worker's
 * hello, request headers and reply headers, as zod schemas. The hello and reply-header schemas
 * are part of the generated contract (`contract.ts` → `envelope`), which the Python tests hold
 * the real server's messages to; change them here, then run `npm run gen:contract`.
 */
import { z } from 'zod';

import { HELLO, type OpName, PROTOCOL_VERSION } from './protocol.js';

/** The part of a hello every version shares: enough to check the token and the version. */
export const HelloEnvelopeSchema = z.looseObject({ v: z.unknown(), op: z.literal(HELLO), token: z.string() });

/** The full hello of a worker speaking this version. */
export const HelloSchema = z.looseObject({
  v: z.literal(PROTOCOL_VERSION),
  op: z.literal(HELLO),
  token: z.string(),
  pid: z.number().int(),
  python: z.string(),
  torch: z.string(),
  devices: z.array(z.looseObject({ id: z.string(), name: z.string(), memory_mib: z.number().nullable() })),
  threads: z.number().int(),
  model_ops: z.boolean(),
  model_ops_error: z.string().nullable(),
  /** Every rank of the worker's group with its pid, rank 0 (this peer) first. */
  ranks: z.array(z.object({ rank: z.number().int(), pid: z.number().int() })),
});
/** A parsed hello. */
export type Hello = z.output<typeof HelloSchema>;

/** The `error` of a failed reply. */
export const ErrorBodySchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  op: z.string().nullable(),
  hint: z.string().nullable(),
  traceback: z.string(),
});
/** A parsed error body. */
export type ErrorBody = z.output<typeof ErrorBodySchema>;

/** Frame 0 of a reply: a result, or an error. */
export const ReplyHeaderSchema = z.discriminatedUnion('ok', [
  z.looseObject({ v: z.number(), id: z.number().int().nullable(), ok: z.literal(true), result: z.record(z.string(), z.unknown()) }),
  z.looseObject({ v: z.number(), id: z.number().int().nullable(), ok: z.literal(false), error: ErrorBodySchema }),
]);
/** A parsed reply header. */
export type ReplyHeader = z.output<typeof ReplyHeaderSchema>;

/** A request header (frame 0); `op` is a string so diagnostics can send unknown ops on purpose. */
export interface RequestHeader {
  v: number;
  id: number;
  op: OpName | (string & {});
  args: unknown;
}

/** A message's frames as received (identity frame removed). */
export type Frames = Buffer[];
