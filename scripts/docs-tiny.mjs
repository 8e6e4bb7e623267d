#!/usr/bin/env node
// Regenerates the results tables of docs/tiny-preset.md (between its GENERATED markers), and the
// validation-curve figure beside it, from a sweep folder: `npm run docs:tiny -- runs/tiny-protocol [--doc docs/tiny-preset.md] [--machine "…"] [--command "…"]`.
// Needs a build (`npm run build`); the table logic is src/compare/doc-tables.ts (unit-tested there).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { curvesFigure, curvesFigureName, docInputFromFolder, replaceGenerated, resultsBlock } = await import(join(root, 'dist', 'compare', 'doc-tables.js'));
const { writeFileAtomic } = await import(join(root, 'dist', 'fs-atomic.js'));

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  if (at < 0) return null;
  const value = args[at + 1];
  args.splice(at, 2);
  return value ?? null;
};
const doc = resolve(option('--doc') ?? join(root, 'docs', 'tiny-preset.md'));
const machine = option('--machine');
const command = option('--command');
if (args.length !== 1) {
  process.stderr.write('usage: npm run docs:tiny -- <sweep folder> [--doc <file.md>] [--machine "<cores, CPU, OS>"] [--command "<mgsd command>"]\n');
  process.exitCode = 2;
} else {
  const folder = args[0];
  try {
    const input = docInputFromFolder(resolve(folder), `npm run docs:tiny -- ${folder}`, { command, machine });
    const figure = join(dirname(doc), curvesFigureName(doc));
    writeFileAtomic(figure, curvesFigure(input.runs));
    writeFileAtomic(doc, replaceGenerated(readFileSync(doc, 'utf8'), resultsBlock(input, curvesFigureName(doc)), doc));
    process.stdout.write(`${doc}\n${figure}\n`);
  } catch (error) {
    process.stderr.write(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
    process.exitCode = 1;
  }
}
