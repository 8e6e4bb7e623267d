#!/usr/bin/env node
// Writes every file generated from the zod declarations (run through `npm run gen:contract`,
// which builds first): the wire contract the Python worker validates against, and the generated
// regions of docs/protocol.md and docs/configuration.md. Tests fail while any of them is stale.
// Each file is written atomically (temp file + rename) and only when its text changed.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { generatedFiles } = await import(join(root, 'dist', 'cli', 'generated.js'));
const { writeFileAtomic } = await import(join(root, 'dist', 'fs-atomic.js'));

for (const { path, text } of generatedFiles(root)) {
  const target = join(root, path);
  let current = null;
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // a file that does not exist yet is written below
  }
  if (current === text) {
    console.log(`gen:contract: ${path} is up to date`);
    continue;
  }
  writeFileAtomic(target, text);
  console.log(`gen:contract: wrote ${path}`);
}
