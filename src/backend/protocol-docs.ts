/**
 * The op reference of docs/protocol.md, rendered from the generated contract (`contract.ts`),
 * so the page cannot drift from what both sides enforce. For each op: its arguments as a flat
 * table of key paths (nested objects dotted, array items `[]`, union branches by their tag) with
 * type, bounds, enums and notes; its result keys; its request and reply tensors. Types named by
 * an `id` (views, clip, model spec) are listed once under "Shared types". Output is deterministic.
 */
import { type Contract, type OpContract, type TensorSpecJson, buildContract } from './contract.js';

type Schema = Record<string, unknown>;
interface Row {
  key: string;
  type: string;
  required: boolean;
  note: string;
}

const SAFE_MAX = Number.MAX_SAFE_INTEGER;
const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
const code = (text: string): string => `\`${text}\``;

function bounds(schema: Schema, integer: boolean): string {
  let low = schema.minimum as number | undefined;
  let lowOpen = false;
  if (schema.exclusiveMinimum !== undefined) [low, lowOpen] = [schema.exclusiveMinimum as number, true];
  let high = schema.maximum as number | undefined;
  let highOpen = false;
  if (schema.exclusiveMaximum !== undefined) [high, highOpen] = [schema.exclusiveMaximum as number, true];
  if (high !== undefined && high >= SAFE_MAX) high = undefined; // zod's int() bounds: no information
  if (low !== undefined && low <= -SAFE_MAX) low = undefined;
  if (integer && low !== undefined && lowOpen) [low, lowOpen] = [low + 1, false];
  if (low === undefined && high === undefined) return '';
  if (high === undefined) return ` ${lowOpen ? '>' : '≥'} ${low}`;
  if (low === undefined) return ` ${highOpen ? '<' : '≤'} ${high}`;
  return ` in ${lowOpen ? '(' : '['}${low}, ${high}${highOpen ? ')' : ']'}`;
}

/** A subschema's type in words: `integer ≥ 1`, `"a" | "b"`, `number or null`, `[views](#views)`. */
export function typeText(schema: Schema): string {
  if (typeof schema.$ref === 'string') {
    const id = schema.$ref.replace('#/$defs/', '');
    return `[${id}](#${id.replaceAll('_', '-')})`;
  }
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (branches) {
    const tag = tagOf(branches);
    if (tag) return `object by ${code(tag)}: ${branches.map((b) => JSON.stringify(propsOf(b)[tag]!.const)).join(' | ')}`;
    return branches.map(typeText).join(' or ');
  }
  const type = schema.type;
  if (Array.isArray(type)) return type.map((t) => typeText({ ...schema, type: t })).join(' or ');
  if (type === 'integer' || type === 'number') return `${type}${bounds(schema, type === 'integer')}`;
  if (type === 'string') return (schema.minLength as number | undefined) ? 'string (non-empty)' : 'string';
  if (type === 'array') {
    const prefix = schema.prefixItems as Schema[] | undefined;
    if (prefix) return `[${prefix.map(typeText).join(', ')}]`;
    const min = schema.minItems as number | undefined;
    return `array${min ? ` (≥ ${min})` : ''} of ${typeText((schema.items as Schema | undefined) ?? {})}`;
  }
  if (type === 'object') return schema.properties ? 'object' : 'object (any keys)';
  if (type === 'boolean' || type === 'null') return type;
  return 'any';
}

function propsOf(schema: Schema): Record<string, Schema> {
  return (schema.properties ?? {}) as Record<string, Schema>;
}

function tagOf(branches: Schema[]): string | undefined {
  const keys = branches.map((b) => Object.keys(propsOf(b)));
  return keys[0]?.find((key) => branches.every((b) => propsOf(b)[key] && 'const' in propsOf(b)[key]!));
}

/** The object branches worth flattening below a key (a tagged union's variants, a nullable object). */
function objectBranches(schema: Schema): Schema[] {
  if (schema.type === 'object' && schema.properties) return [schema];
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  return branches ? branches.filter((b) => b.type === 'object' && b.properties) : [];
}

function rows(schema: Schema, prefix: string, out: Row[]): Row[] {
  const required = new Set((schema.required ?? []) as string[]);
  const rule = schema.then as Schema | undefined;
  for (const [key, sub] of Object.entries(propsOf(schema))) {
    const path = prefix ? `${prefix}.${key}` : key;
    const notes = [sub.description as string | undefined];
    if (rule && ((rule.required ?? []) as string[]).includes(key)) notes.push(rule.description as string);
    out.push({ key: path, type: typeText(sub), required: required.has(key), note: notes.filter(Boolean).join('; ') });
    descend(sub, path, out);
  }
  return out;
}

/** Rows below one key: the keys of its object (per tagged variant), and of its array items. */
function descend(sub: Schema, path: string, out: Row[]): void {
  const variants = objectBranches(sub);
  const tag = variants.length > 1 ? tagOf(variants) : undefined;
  for (const variant of variants) {
    const label = tag ? `${path}{${tag}=${JSON.stringify(propsOf(variant)[tag]!.const)}}` : path;
    const inner = tag ? { ...variant, properties: Object.fromEntries(Object.entries(propsOf(variant)).filter(([k]) => k !== tag)) } : variant;
    rows(inner, label, out);
  }
  const items = sub.type === 'array' ? (sub.items as Schema | undefined) : undefined;
  if (items && (items.type === 'array' || objectBranches(items).length > 0)) {
    out.push({ key: `${path}[]`, type: typeText(items), required: true, note: (items.description as string | undefined) ?? '' });
    descend(items, `${path}[]`, out);
  }
}

function table(list: Row[], empty: string): string {
  if (list.length === 0) return empty;
  const lines = ['| key | type | required | notes |', '|---|---|---|---|'];
  for (const row of list) lines.push(`| ${code(row.key)} | ${cell(row.type)} | ${row.required ? 'yes' : 'no'} | ${cell(row.note)} |`);
  return lines.join('\n');
}

function argsSection(args: Schema): string {
  const branches = args.anyOf as Schema[] | undefined;
  if (branches) return branches.map((b) => `Either ${b.description as string}:\n\n${table(rows(b, '', []), 'none')}`).join('\n\n');
  if (!args.properties && args.type === 'object' && args.additionalProperties !== false) return `Any object (${(args.description as string) ?? 'free-form'}).`;
  return table(rows(args, '', []), 'None (send `{}`).');
}

function tensorTable(specs: Record<string, TensorSpecJson> | null): string {
  if (specs === null) return 'Any.';
  const entries = Object.entries(specs);
  if (entries.length === 0) return 'None.';
  const lines = ['| tensor | dtype | per-row rank | required | rule |', '|---|---|---|---|---|'];
  for (const [name, s] of entries) {
    const rule = [s.same_shape_as ? `same shape as ${code(s.same_shape_as)}` : '', s.last_dim ? `last dimension ${s.last_dim}` : ''].filter(Boolean).join('; ');
    lines.push(`| ${code(name)} | ${s.dtype} | ${s.ranks.join(' or ')} | ${s.required ? 'yes' : 'no'} | ${rule} |`);
  }
  return lines.join('\n');
}

/** `**label.** body`, with a table body on its own paragraph. */
function labeled(label: string, body: string): string {
  return body.startsWith('|') || body.startsWith('Either') ? `**${label}.**\n\n${body}` : `**${label}.** ${body}`;
}

function opSection(name: string, op: OpContract): string {
  const result = op.result.properties ? table(rows(op.result, '', []), 'None (`{}`).') : `Any object (${(op.result.description as string) ?? ''}).`;
  return [
    `### ${code(name)}`,
    labeled('Arguments', argsSection(op.args)),
    labeled('Result', result),
    labeled('Request tensors', tensorTable(op.request_tensors)),
    labeled('Reply tensors', tensorTable(op.reply_tensors)),
  ].join('\n\n');
}

function sharedTypes(contract: Contract): string {
  const defs = new Map<string, Schema>();
  for (const op of Object.values(contract.ops)) {
    for (const [id, def] of Object.entries((op.args.$defs ?? {}) as Record<string, Schema>)) defs.set(id, def);
  }
  return [...defs.keys()]
    .sort()
    .map((id) => {
      const def = defs.get(id)!;
      const flat = rows({ properties: { [id]: def }, required: [id] }, '', []);
      return `### ${id}\n\n${(def.description as string) ?? ''}\n\n${table(flat, 'none')}`;
    })
    .join('\n\n');
}

/** The generated region of docs/protocol.md: vocabularies, every op, and the shared types. */
export function protocolDocs(contract: Contract = buildContract()): string {
  const vocab = Object.entries(contract.vocab).map(([name, values]) => `- ${name}: ${values.map(code).join(', ')}`);
  const teacher = Object.entries(contract.wire_teacher_tensors).map(([estimator, names]) => `${code(estimator)} → ${names.map(code).join(' + ')}`);
  return [
    `Protocol version **${contract.version}**; requests over **${contract.max_message_mib} MiB** are refused (\`--max-message-mib\`). ` +
      `Ops the server answers itself: ${contract.server_ops.map(code).join(', ')}; the others run on the model worker.`,
    `Vocabularies:\n\n${vocab.join('\n')}`,
    `A \`distill_step\` with \`{"source": "wire"}\` must carry its estimator's teacher tensors: ${teacher.join('; ')}.`,
    ...Object.entries(contract.ops).map(([name, op]) => opSection(name, op)),
    `## Shared types\n\n${sharedTypes(contract)}`,
  ].join('\n\n');
}
