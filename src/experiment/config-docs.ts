/**
 * The key reference of docs/configuration.md, rendered from `ExperimentConfigSchema` (its zod
 * `.describe()` texts, defaults, types, bounds and enums, through zod's JSON Schema export), so
 * the page cannot drift from what the loader accepts. One table per section: top-level keys,
 * then each top-level object (sections whose children are all objects, such as `stages`, get a
 * table per child; identical children such as the three tasks share one). Nested keys are
 * dotted, array items `[]`. Cross-field rules live in refinements and are named in descriptions.
 */
import { z } from 'zod';

import { typeText } from '../backend/protocol-docs.js';
import { ExperimentConfigSchema } from './config.js';

type Schema = Record<string, unknown>;

const props = (schema: Schema): Record<string, Schema> => (schema.properties ?? {}) as Record<string, Schema>;
const isObject = (schema: Schema): boolean => schema.type === 'object' && schema.properties !== undefined;
const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function defaultText(schema: Schema, required: boolean, inherited: unknown): string {
  if (inherited !== undefined || 'default' in schema) {
    const value = inherited !== undefined ? inherited : schema.default;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return '–';
    return `\`${JSON.stringify(value)}\``;
  }
  return required ? 'required' : '–';
}

/** Table rows of an object's keys; `defaults` are the values a parent's own default gives them. */
function rows(schema: Schema, prefix: string, out: string[], defaults: Record<string, unknown> = {}): string[] {
  const required = new Set((schema.required ?? []) as string[]);
  for (const [key, sub] of Object.entries(props(schema))) {
    const path = prefix ? `${prefix}.${key}` : key;
    const type = isObject(sub) ? 'object' : typeText(sub);
    const inherited = defaults[key];
    out.push(`| ${cell(`\`${path}\``)} | ${cell(type)} | ${defaultText(sub, required.has(key), inherited)} | ${cell((sub.description as string | undefined) ?? '')} |`);
    const own = (inherited ?? sub.default) as Record<string, unknown> | undefined;
    if (isObject(sub)) rows(sub, path, out, own !== null && typeof own === 'object' ? own : {});
    const items = sub.type === 'array' ? (sub.items as Schema | undefined) : undefined;
    if (items && isObject(items)) rows(items, `${path}[]`, out);
  }
  return out;
}

function table(schema: Schema, prefix: string): string {
  return ['| key | type | default | meaning |', '|---|---|---|---|', ...rows(schema, prefix, [])].join('\n');
}

/** A description as a sentence (capitalised, with a full stop), or nothing. */
function sentence(schema: Schema): string {
  const about = (schema.description as string | undefined) ?? '';
  return about ? `${about[0]!.toUpperCase()}${about.slice(1)}.\n\n` : '';
}

function section(title: string, schema: Schema, prefix: string, level: string): string {
  return `${level} ${title}\n\n${sentence(schema)}${table(schema, prefix)}`;
}

/** The generated region of docs/configuration.md. */
export function configurationDocs(): string {
  const root = z.toJSONSchema(ExperimentConfigSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' }) as Schema;
  const leaves = Object.fromEntries(Object.entries(props(root)).filter(([, sub]) => !isObject(sub)));
  const parts = [section('Top level', { properties: leaves, required: root.required }, '', '##')];
  for (const [key, sub] of Object.entries(props(root))) {
    if (!isObject(sub)) continue;
    const children = Object.entries(props(sub));
    if (!children.every(([, child]) => isObject(child))) {
      parts.push(section(`\`${key}\``, sub, key, '##'));
      continue;
    }
    parts.push(`## \`${key}\`\n\n${sentence(sub)}`.trimEnd());
    const identical = children.every(([, child]) => JSON.stringify(child) === JSON.stringify(children[0]![1]));
    if (identical && children.length > 1) {
      const name = `${key}.<${children.map(([k]) => k).join('|')}>`;
      parts.push(section(`\`${name}\``, children[0]![1], name, '###'));
      continue;
    }
    for (const [child, schema] of children) parts.push(section(`\`${key}.${child}\``, schema, `${key}.${child}`, '###'));
  }
  return parts.join('\n\n');
}
