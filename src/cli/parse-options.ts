/**
 * Parsing a command's raw commander options through its zod schema, so a bad value becomes a
 * `UsageError` that names the flag (`--limit-per-level`) or argument (`<kind>`), the value
 * received and what is expected — never a bare zod dump.
 */
import type { z } from 'zod';

import { UsageError } from '../errors.js';

/** Parses `raw` with `schema`; `positional` lists the keys that are arguments, not flags. */
export function parseOptions<S extends z.ZodType>(
  command: string,
  schema: S,
  raw: Record<string, unknown>,
  positional: readonly string[] = [],
): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const name = positional.includes(key) ? `<${key}>` : `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
    const got = raw[key] === undefined ? '' : ` (got ${JSON.stringify(raw[key])})`;
    return `  ${name}: ${issue.message}${got}`;
  });
  return usage(command, lines);
}

function usage(command: string, lines: string[]): never {
  throw new UsageError('bad_option', `mgsd ${command}: invalid option\n${lines.join('\n')}`, {
    hint: `Run \`mgsd ${command} --help\` for the accepted values.`,
  });
}
