/**
 * Runs every case of hostile-input.cases.ts and hostile-input.vague-cases.ts through the compiled CLI (build first: `npm run build`)
 * and checks that the answer is clear and harmless: the expected exit code, the file or key named,
 * a hint, no stack trace, no raw control character on the terminal, and every input unchanged.
 *
 * With MGSD_HOSTILE_REPORT=<file> the per-case verdicts are also written there as JSON
 * (scripts/hostile-review.mjs prints them as a table with the share of clear messages).
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/experiment/load.js';
import { RunDir } from '../../src/experiment/run-dir.js';
import { createRunDir } from '../../src/experiment/run.js';
import { type CaseContext, HOSTILE_CASES, type HostileCase } from './hostile-input.cases.js';
import { VAGUE_CASES } from './hostile-input.vague-cases.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin', 'mgsd.js');
let template: string;
const verdicts: Array<{ name: string; exitCode: number; problems: string[]; stderr: string }> = [];

/** Relative path → sha256 (or link target) of everything under `path` (a file or a folder). */
function snapshot(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (current: string): void => {
    const stat = lstatSync(current);
    const key = relative(dirname(path), current);
    if (stat.isSymbolicLink()) out[key] = `-> ${readlinkSync(current)}`;
    else if (stat.isDirectory()) for (const name of readdirSync(current).sort()) walk(join(current, name));
    else out[key] = createHash('sha256').update(readFileSync(current)).digest('hex');
  };
  if (existsSync(path)) walk(path);
  return out;
}

function contextIn(dir: string): CaseContext {
  cpSync(template, dir, { recursive: true });
  return {
    dir,
    dataset: join(dir, 'ds'),
    responses: join(dir, 'responses.jsonl'),
    run: join(dir, 'run'),
    checkpoint: join(dir, 'ckpt'),
    livePid: process.pid,
  };
}

/** Everything wrong with one case's answer (empty when it is clear and harmless). */
async function judge(testCase: HostileCase): Promise<{ exitCode: number; problems: string[]; stderr: string }> {
  const ctx = contextIn(mkdtempSync(join(tmpdir(), 'mgsd-hostile-')));
  try {
    testCase.setup?.(ctx);
    const watched = [ctx.dataset, ctx.responses, ctx.run, ctx.checkpoint, ...(testCase.inputs?.(ctx) ?? [])];
    const before = watched.map(snapshot);
    const result = await execa('node', [BIN, ...testCase.args(ctx)], { cwd: ctx.dir, reject: false, timeout: 60_000, stdin: 'ignore' });
    const stderr = String(result.stderr);
    const exitCode = result.exitCode ?? -1;
    const problems: string[] = [];
    if (exitCode !== testCase.exit) problems.push(`exit ${exitCode}, expected ${testCase.exit}`);
    for (const name of testCase.names(ctx)) {
      if (typeof name === 'string' ? !stderr.includes(name) : !name.test(stderr)) problems.push(`does not name ${String(name)}`);
    }
    if (testCase.needsHint !== false && !/^\s*hint: \S/m.test(stderr)) problems.push('no hint');
    if (/^\s+at .+:\d+:\d+\)?$/m.test(stderr) || /^\w*Error: /m.test(stderr)) problems.push('raw stack trace or unhandled error');
    if (/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(stderr)) problems.push('raw control character on stderr');
    watched.forEach((path, index) => {
      const after = snapshot(path);
      if (JSON.stringify(after) !== JSON.stringify(before[index])) problems.push(`input changed: ${relative(ctx.dir, path)}`);
    });
    return { exitCode, problems, stderr };
  } finally {
    rmSync(ctx.dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  template = mkdtempSync(join(tmpdir(), 'mgsd-hostile-template-'));
  const imported = await execa('node', [BIN, 'data', 'import', 'vsp-frozenlake', join(ROOT, 'benchmarks', 'vsp-frozenlake.jsonl'), '--out', 'ds', '--levels', '3', '--limit-per-level', '3'], {
    cwd: template,
    reject: false,
  });
  if (imported.exitCode !== 0) throw new Error(`could not import the fixture dataset: ${String(imported.stderr)}`);
  writeFileSync(join(template, 'responses.jsonl'), ['0', '1', '2'].map((i) => `${JSON.stringify({ id: `vsp-frozenlake/${i}`, response: '<answer>U U</answer>' })}\n`).join(''));
  // A run that started and failed before any stage finished: config and manifest as `mgsd run` writes them.
  createRunDir(new RunDir(join(template, 'run')), loadConfig('tiny'), () => {});
  mkdirSync(join(template, 'ckpt'));
  writeFileSync(join(template, 'ckpt', 'mgsd-checkpoint.json'), JSON.stringify({ format: 1, kind: 'tiny', step: 0, has_optimizer: false, files: [] }));
}, 60_000);

afterAll(() => {
  if (template !== undefined) rmSync(template, { recursive: true, force: true });
  const report = process.env.MGSD_HOSTILE_REPORT;
  if (report) writeFileSync(report, `${JSON.stringify(verdicts, null, 2)}\n`);
});

describe('hostile input: every answer is clear, and no input is touched', () => {
  // Cases are independent (each has its own scratch folder): run a few CLIs at a time.
  it.concurrent.each([...HOSTILE_CASES, ...VAGUE_CASES].map((testCase) => [testCase.name, testCase] as const))('%s', async (name, testCase) => {
    const verdict = await judge(testCase);
    verdicts.push({ name, ...verdict });
    expect(verdict.problems, verdict.stderr).toEqual([]);
  }, 60_000);
});
