/**
 * Fails while a checked-in generated file differs from what the zod declarations produce now
 * (the wire contract the Python worker reads, the tables in docs/): the message names the file
 * and the command that regenerates it, so CI catches a contract or docs drift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { PROJECT_ROOT } from '../backend/interpreter.js';
import { GEN_COMMAND } from '../backend/contract.js';
import { generatedFiles, spliceRegion } from './generated.js';

describe('generated files', () => {
  it.each(generatedFiles(PROJECT_ROOT).map((file) => [file.path, file] as const))('%s is up to date', (path, file) => {
    const current = readFileSync(join(PROJECT_ROOT, path), 'utf8');
    expect(current === file.text, `${path} is stale: run \`${GEN_COMMAND}\` and commit the result`).toBe(true);
  });

  it('replaces only the region between its markers, and names missing markers', () => {
    const text = `intro\n<!-- BEGIN GENERATED t (${GEN_COMMAND}; do not edit) -->\nold\n<!-- END GENERATED t -->\noutro\n`;
    expect(spliceRegion(text, 't', 'new', 'x.md')).toBe(text.replace('old', 'new'));
    expect(() => spliceRegion('no markers', 't', 'new', 'docs/x.md')).toThrow(/docs\/x\.md: the markers of the generated region "t"/);
  });
});
