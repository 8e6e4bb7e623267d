/**
 * Every file (or region of a file) generated from the zod declarations, in one list: the wire
 * contract the Python worker validates against, and the tables of docs/protocol.md and
 * docs/configuration.md. `npm run gen:contract` (scripts/gen-contract.mjs) writes them;
 * `generated.test.ts` fails, naming that command, while any checked-in copy is stale.
 * Generated regions sit between `<!-- BEGIN GENERATED name -->` and `<!-- END GENERATED name -->`
 * markers; the prose around them is hand-written and kept.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CONTRACT_PATH, contractText, GEN_COMMAND } from '../backend/contract.js';
import { protocolDocs } from '../backend/protocol-docs.js';
import { configurationDocs } from '../experiment/config-docs.js';

/** One generated file: its path relative to the project root and its full expected text. */
export interface GeneratedFile {
  path: string;
  text: string;
}

/** `text` with the region between the `name` markers replaced by `body`; throws when a marker is missing. */
export function spliceRegion(text: string, name: string, body: string, file: string): string {
  const begin = `<!-- BEGIN GENERATED ${name} (${GEN_COMMAND}; do not edit) -->`;
  const end = `<!-- END GENERATED ${name} -->`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) {
    throw new Error(`${file}: the markers of the generated region "${name}" are missing or out of order; put\n${begin}\n${end}\nwhere the table belongs`);
  }
  return `${text.slice(0, start + begin.length)}\n${body.trimEnd()}\n${text.slice(stop)}`;
}

/** The expected text of every generated file under `root`. */
export function generatedFiles(root: string): GeneratedFile[] {
  const region = (path: string, name: string, body: string): GeneratedFile => ({
    path,
    text: spliceRegion(readFileSync(join(root, path), 'utf8'), name, body, path),
  });
  return [
    { path: CONTRACT_PATH, text: contractText() },
    region('docs/protocol.md', 'ops', protocolDocs()),
    region('docs/configuration.md', 'config', configurationDocs()),
  ];
}
