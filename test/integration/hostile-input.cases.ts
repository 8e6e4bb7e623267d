/**
 * The hostile-input review as a table: each case prepares files in a scratch folder, runs the real
 * CLI (`node bin/mgsd.js …`) and states what a clear answer is — the exit code, what the message
 * must name (the file or key), and that a hint gives a remedy. The runner (hostile-input.test.ts,
 * and scripts/hostile-review.mjs for the report) also checks for every case that no input file
 * changed, that no stack trace and no raw control character reached the terminal.
 *
 * Cases need no training run and no worker: each answers within a second or two. This file holds
 * the security and lost-data cases; hostile-input.vague-cases.ts the vague-message ones.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** The scratch folder of one case and the shared fixtures in it. */
export interface CaseContext {
  /** The case's own folder (the CLI runs here). */
  dir: string;
  /** A small imported dataset (3 FrozenLake 3×3 records), copied for each case. */
  dataset: string;
  /** A responses file for `dataset`. */
  responses: string;
  /** A run directory that started and never finished a stage (config + manifest only). */
  run: string;
  /** A folder that looks like a checkpoint (its mgsd-checkpoint.json is valid). */
  checkpoint: string;
  /** The pid of a live process on this host (the test runner), for locks held by someone else. */
  livePid: number;
}

/** One row of the table. */
export interface HostileCase {
  name: string;
  /** Prepares extra files; returns nothing. */
  setup?: (ctx: CaseContext) => void;
  args: (ctx: CaseContext) => string[];
  /** Expected exit status. */
  exit: number;
  /** Texts (or patterns) stderr must contain: the file, key or flag at fault. */
  names: (ctx: CaseContext) => Array<string | RegExp>;
  /** False for cases that must succeed (then no hint is required). */
  needsHint?: boolean;
  /** Files and folders that must be byte-identical before and after (default: the fixtures). */
  inputs?: (ctx: CaseContext) => string[];
}

const lockOf = (ctx: CaseContext): void => {
  const holder = { pid: ctx.livePid, host: hostname(), command: 'mgsd run --out run', started_at: '2026-01-01T00:00:00.000Z' };
  writeFileSync(join(ctx.run, 'run.lock'), JSON.stringify(holder));
};

/** Writes a fixture file (text or bytes). */
export const write = (path: string, text: string | Uint8Array): void => writeFileSync(path, text);

/** The security and lost-data cases (the vague-message ones are in hostile-input.vague-cases.ts). */
export const HOSTILE_CASES: HostileCase[] = [
  // --- Security: nothing from a file reaches the terminal raw; no prototype pollution; runs stay in runs/.
  {
    name: 'score: a response id with terminal escapes and a bidi override',
    setup: (ctx) => write(join(ctx.dir, 'evil.jsonl'), '{"id":"\\u001b]0;pwned\\u0007\\u001b[2J\\u202e","response":"x"}\n'),
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', 'evil.jsonl'],
    exit: 1,
    names: () => ['evil.jsonl:1', '\\x1b]0;pwned\\x07', '\\u202e'],
  },
  {
    name: 'data import: a map row with escape sequences',
    setup: (ctx) => write(join(ctx.dir, 'evil.jsonl'), '{"level": 3, "rows": ["F\\u001b]0;x\\u0007GF", "FFF", "FSF"]}\n'),
    args: () => ['data', 'import', 'vsp-frozenlake', 'evil.jsonl', '--out', 'out'],
    exit: 1,
    names: () => ['evil.jsonl:1', '\\u001b'],
  },
  {
    name: 'an argument with escape sequences, echoed by the option parser',
    args: () => ['data', 'import', 'bad\u001b]0;x\u0007', 'file.jsonl', '--out', 'out'],
    exit: 2,
    needsHint: false,
    names: () => ["'bad\\x1b]0;x\\x07'", 'argument \'kind\'', '--help'],
  },
  {
    name: 'an unknown option with escape sequences',
    args: () => ['--\u001b[2Jx'],
    exit: 2,
    needsHint: false,
    names: () => ['unknown option', '\\x1b[2Jx', '--help'],
  },
  {
    name: '--set __proto__.x=1',
    args: () => ['config', '--set', '__proto__.polluted=1'],
    exit: 2,
    names: () => ['__proto__'],
  },
  {
    name: '--set constructor.prototype.x=1',
    args: () => ['config', '--set', 'constructor.prototype.polluted=1'],
    exit: 2,
    names: () => ['constructor'],
  },
  {
    name: '--set data.prototype=1',
    args: () => ['config', '--set', 'data.prototype=1'],
    exit: 2,
    names: () => ['prototype'],
  },
  {
    name: 'run --set name=../../x',
    args: () => ['run', '--set', 'name=../../x'],
    exit: 2,
    names: () => ['name', '../../x', 'runs/'],
  },
  {
    name: 'run --set name=a/b',
    args: () => ['run', '--set', 'name=a/b'],
    exit: 2,
    names: () => ['name', 'a/b'],
  },
  // --- Lost data: --force, outputs over inputs, concurrent writers.
  {
    name: 'data import --force over an unrelated folder',
    setup: (ctx) => {
      mkdirSync(join(ctx.dir, 'photos'));
      write(join(ctx.dir, 'photos', 'holiday.jpg'), 'jpeg bytes');
    },
    args: () => ['data', 'import', 'vsp-frozenlake', 'benchmarks/vsp-frozenlake.jsonl', '--out', 'photos', '--force', '--limit-per-level', '1'],
    exit: 1,
    names: () => ['photos', 'not a dataset mgsd wrote'],
    inputs: (ctx) => [join(ctx.dir, 'photos')],
  },
  {
    name: 'data import --force over a file',
    setup: (ctx) => write(join(ctx.dir, 'notes.txt'), 'my notes'),
    args: () => ['data', 'import', 'vsp-frozenlake', 'benchmarks/vsp-frozenlake.jsonl', '--out', 'notes.txt', '--force'],
    exit: 1,
    names: () => ['notes.txt', 'is a file'],
    inputs: (ctx) => [join(ctx.dir, 'notes.txt')],
  },
  {
    name: 'data build --force over a run directory',
    args: (ctx) => ['data', 'build', '--out', ctx.run, '--force'],
    exit: 1,
    names: (ctx) => [ctx.run, 'not a dataset mgsd wrote'],
    inputs: (ctx) => [ctx.run],
  },
  {
    name: 'run --out together with --resume',
    args: (ctx) => ['run', '--out', 'elsewhere', '--resume', ctx.run],
    exit: 2,
    names: () => ['--out elsewhere', '--resume'],
  },
  {
    name: 'run --out into a dataset',
    args: (ctx) => ['run', '--out', ctx.dataset],
    exit: 2,
    names: (ctx) => [ctx.dataset, 'never writes into a dataset'],
  },
  {
    name: 'run --out to a new folder inside a dataset',
    args: (ctx) => ['run', '--out', join(ctx.dataset, 'runs', 'r1')],
    exit: 2,
    names: () => ['--out', 'never writes into a dataset'],
  },
  {
    name: 'run --out into a folder of other files',
    setup: (ctx) => {
      mkdirSync(join(ctx.dir, 'home'));
      write(join(ctx.dir, 'home', 'report.html'), '<p>mine</p>');
    },
    args: () => ['run', '--out', 'home'],
    exit: 2,
    names: () => ['home', 'report.html'],
    inputs: (ctx) => [join(ctx.dir, 'home')],
  },
  {
    name: 'score --out over the responses file',
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--out', ctx.responses],
    exit: 2,
    names: () => ['--out', '--responses', 'same file'],
  },
  {
    name: 'score --out over the responses file by another spelling',
    setup: (ctx) => mkdirSync(join(ctx.dir, 'sub')),
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--out', 'sub/../responses.jsonl'],
    exit: 2,
    names: () => ['--out', 'same file'],
  },
  {
    name: 'score --out through a symbolic link to the responses',
    setup: (ctx) => symlinkSync(ctx.responses, join(ctx.dir, 'link.jsonl')),
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--out', 'link.jsonl'],
    exit: 2,
    names: () => ['--out', 'same file'],
  },
  {
    name: 'score --summary over a split file of the dataset',
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--summary', join(ctx.dataset, 'test.jsonl')],
    exit: 2,
    names: () => ['--summary', 'dataset'],
  },
  {
    name: 'score --summary as a new file inside the dataset',
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--summary', join(ctx.dataset, 'summary.json')],
    exit: 2,
    names: () => ['--summary', 'never writes into a dataset'],
  },
  {
    name: 'score --summary equal to --out',
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--out', 'graded.jsonl', '--summary', 'graded.jsonl'],
    exit: 2,
    names: () => ['--summary', '--out'],
  },
  {
    name: 'data export --out inside the dataset',
    args: (ctx) => ['data', 'export', ctx.dataset, '--format', 'jsonl', '--out', join(ctx.dataset, 'test.jsonl')],
    exit: 2,
    names: () => ['--out', 'dataset'],
  },
  {
    name: 'eval --out over a record of the run (config.resolved.json)',
    args: (ctx) => ['eval', '--run', ctx.run, '--model', ctx.checkpoint, '--dataset', ctx.dataset, '--out', join(ctx.run, 'config.resolved.json')],
    exit: 2,
    names: () => ['--out', 'config.resolved.json', 'the run record'],
  },
  {
    name: 'eval --out into the dataset it evaluates',
    args: (ctx) => ['eval', '--run', ctx.run, '--model', ctx.checkpoint, '--dataset', ctx.dataset, '--out', join(ctx.dataset, 'test.jsonl')],
    exit: 2,
    names: () => ['--out', 'dataset'],
  },
  {
    name: 'score --out over the --config file',
    setup: (ctx) => write(join(ctx.dir, 'exp.yaml'), 'profile: compact\n'),
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--config', 'exp.yaml', '--out', 'exp.yaml'],
    exit: 2,
    names: () => ['--out', '--config', 'same file'],
    inputs: (ctx) => [join(ctx.dir, 'exp.yaml')],
  },
  {
    name: 'data export next to a damaged dataset_info.json',
    setup: (ctx) => {
      mkdirSync(join(ctx.dir, 'lf'));
      write(join(ctx.dir, 'lf', 'dataset_info.json'), '{"other": {"file_name": "o.jsonl"}');
    },
    args: (ctx) => ['data', 'export', ctx.dataset, '--format', 'llamafactory', '--out', 'lf/mgsd.jsonl'],
    exit: 1,
    names: () => ['dataset_info.json', 'not valid JSON'],
    inputs: (ctx) => [join(ctx.dir, 'lf')],
  },
  {
    name: 'data show --out over a split file',
    args: (ctx) => ['data', 'show', ctx.dataset, '--out', join(ctx.dataset, 'test.jsonl')],
    exit: 2,
    names: () => ['--out', 'dataset'],
  },
  {
    name: 'run --out into a run another process holds',
    setup: lockOf,
    args: (ctx) => ['run', '--out', ctx.run],
    exit: 1,
    names: (ctx) => [ctx.run, `pid ${ctx.livePid}`, 'mgsd run --out run'],
  },
  {
    name: 'run --resume of a run another process holds',
    setup: lockOf,
    args: (ctx) => ['run', '--resume', ctx.run],
    exit: 1,
    names: (ctx) => [`pid ${ctx.livePid}`],
  },
  {
    name: 'report of a run another process holds',
    setup: lockOf,
    args: (ctx) => ['report', ctx.run],
    exit: 1,
    names: (ctx) => [`pid ${ctx.livePid}`],
  },
  {
    name: 'eval --out into a run another process holds',
    setup: lockOf,
    args: (ctx) => ['eval', '--run', ctx.run, '--model', ctx.checkpoint, '--dataset', ctx.dataset, '--out', join(ctx.run, 'eval', 'x.jsonl')],
    exit: 1,
    names: (ctx) => [`pid ${ctx.livePid}`],
  },
];
