#!/usr/bin/env node
// Entry point of the `mgsd` command: runs the compiled CLI in dist/ (built by `npm install`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write(
    `mgsd: the compiled CLI is missing (${main}).\n` +
      'Run `npm run setup` (or `npm run build`) in the mgsd checkout first.\n',
  );
  process.exit(2);
}
await import(main);
