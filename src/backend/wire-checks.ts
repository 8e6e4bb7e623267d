/**
 * The client's checks of what crosses the wire, against the contract in `protocol.ts`: a call's
 * arguments before sending (`parseArgs`), a reply's tensors on arrival (`checkReplyTensors`),
 * and the wording of a reply that does not match (`asProtocolError`, `preview`). Every failure
 * is a `ProtocolError` naming the op and the worker; received text is shown with control
 * characters escaped, never raw (a hostile or broken worker cannot retitle a terminal).
 */
import { z } from 'zod';

import { ProtocolError } from '../errors.js';
import type { Tensor, Tensors } from './codec.js';
import { ARGS_SCHEMAS, OP, type OpName, PROTOCOL_VERSION, REPLY_TENSORS } from './protocol.js';

/** `text` with control characters (terminal escapes included) written as `\uXXXX`. */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** At most 120 characters of a received text, quoted, control characters escaped (never echoed raw). */
export function preview(text: string): string {
  return `"${escapeControl(text.length > 120 ? `${text.slice(0, 120)}…` : text).replaceAll('"', '\\"')}"`;
}

/** Whether `op` is an op of this protocol version. */
export function isOpName(op: string): op is OpName {
  return Object.hasOwn(ARGS_SCHEMAS, op);
}

/** A call's arguments parsed by the op's zod schema; a `ProtocolError` naming each bad field otherwise. */
export function parseArgs(op: OpName, args: unknown, worker: string): Record<string, unknown> {
  if (!isOpName(op)) {
    throw new ProtocolError('unknown_op', `backend op ${JSON.stringify(op)} (worker ${worker}) is not an op of protocol v${PROTOCOL_VERSION}`, {
      hint: `Known ops: ${Object.values(OP).join(', ')}.`,
    });
  }
  const parsed = ARGS_SCHEMAS[op].safeParse(args);
  if (parsed.success) return parsed.data as Record<string, unknown>;
  const issues = parsed.error.issues.map((issue) => `args.${issue.path.join('.')}: ${issue.message}`).join('; ');
  throw new ProtocolError('bad_request', `backend op ${op} (worker ${worker}): ${issues}`, {
    cause: parsed.error,
    hint: 'Fix the call; docs/protocol.md and src/backend/protocol.ts list every op’s arguments.',
  });
}

/** Throws a `ProtocolError` unless a reply's tensors are the op's reply tensors (names, dtypes, ranks). */
export function checkReplyTensors(op: OpName, tensors: Tensors): void {
  const specs: Record<string, { dtype: string; ranks: readonly number[]; required: boolean }> = REPLY_TENSORS[op];
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const value: Tensor | undefined = tensors[name];
    if (value === undefined) {
      if (spec.required) problems.push(`${name} is missing`);
    } else if (value.dtype !== spec.dtype || !spec.ranks.includes(value.shape.length - 1)) {
      problems.push(`${name} is ${value.dtype} [${value.shape.join(', ')}], expected ${spec.dtype} with per-row rank ${spec.ranks.join(' or ')}`);
    }
  }
  for (const name of Object.keys(tensors)) if (!(name in specs)) problems.push(`${name} is not a tensor of this reply`);
  if (problems.length) {
    throw new ProtocolError('bad_reply', `reply tensors off the protocol: ${problems.join('; ')}`, {
      hint: 'The worker and docs/protocol.md disagree; fix the op in py_backend or the spec in src/backend/protocol.ts.',
    });
  }
}

/** Any failure to read a reply as the `ProtocolError` users see: op, worker, what did not match. */
export function asProtocolError(error: unknown, op: string, worker: string): Error {
  let what: string;
  if (error instanceof z.ZodError) what = error.issues.map((issue) => `result.${issue.path.join('.')}: ${issue.message}`).join('; ');
  else what = escapeControl((error as Error).message);
  return new ProtocolError(
    error instanceof ProtocolError ? error.code : 'bad_reply',
    `backend op ${op} (worker ${worker}): the reply does not match the protocol: ${what}`,
    {
      cause: error instanceof ProtocolError || error instanceof z.ZodError ? undefined : error,
      hint:
        (error instanceof ProtocolError ? error.hint : undefined) ??
        'The worker and src/backend/protocol.ts disagree: update both from the same checkout (`npm run gen:contract` regenerates the worker\'s contract).',
    },
  );
}
