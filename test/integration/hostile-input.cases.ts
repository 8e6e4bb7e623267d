/**
 * The hostile-input review as a table: each case prepares files in a scratch folder, runs the real
 * CLI (`node bin/mgsd.js …`) and states what a clear answer is — the exit code, what the message
 * must name (the file or key), and that a hint gives a remedy. The runner (hostile-input.test.ts,
 * and scripts/hostile-review.mjs for the report) also checks for every case that no input file
 * changed, that no stack trace and no raw control character reached the terminal.
 *
 * Cases need no training run and no worker: each answers within a second or two.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
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

const write = (path: string, text: string | Uint8Array): void => writeFileSync(path, text);

/** The review's cases and variations. */
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
  // --- Vague → clear.
  {
    name: 'report of a run that never finished',
    args: (ctx) => ['report', ctx.run],
    exit: 1,
    names: () => ['results.json', 'no stage has finished'],
  },
  {
    name: 'eval of a model whose stage has not finished',
    args: (ctx) => ['eval', '--run', ctx.run, '--model', 'mgsd'],
    exit: 2,
    names: () => ['--model mgsd', 'opsd', 'has not finished'],
  },
  {
    name: 'eval --run of a folder that does not exist',
    args: () => ['eval', '--run', 'nowhere'],
    exit: 2,
    names: () => ['nowhere', 'does not exist'],
  },
  {
    name: 'eval --model of a folder that is not a checkpoint',
    setup: (ctx) => mkdirSync(join(ctx.dir, 'weights')),
    args: (ctx) => ['eval', '--run', ctx.run, '--model', 'weights'],
    exit: 2,
    names: () => ['weights', 'mgsd-checkpoint.json'],
  },
  {
    name: 'eval --model of a checkpoint with a damaged manifest',
    setup: (ctx) => write(join(ctx.checkpoint, 'mgsd-checkpoint.json'), '{"format": 1, "kind": '),
    args: (ctx) => ['eval', '--run', ctx.run, '--model', ctx.checkpoint],
    exit: 1,
    names: () => ['mgsd-checkpoint.json', 'not valid JSON'],
  },
  {
    name: 'eval with a run-state.json that is not JSON',
    setup: (ctx) => write(join(ctx.run, 'run-state.json'), '{"stages": {"sft": '),
    args: (ctx) => ['eval', '--run', ctx.run, '--model', 'sft'],
    exit: 1,
    names: () => ['run-state.json', 'not valid JSON'],
  },
  {
    name: 'resume with a run-state.json field of the wrong type',
    setup: (ctx) => write(join(ctx.run, 'run-state.json'), '{"stages": {"sft": {"stepsDone": "ten", "checkpoint": "checkpoints/sft/step-000010"}}}'),
    args: (ctx) => ['run', '--resume', ctx.run],
    exit: 1,
    names: () => ['run-state.json', 'stages.sft.stepsDone'],
  },
  {
    name: 'resume with a damaged latest.json',
    setup: (ctx) => {
      mkdirSync(join(ctx.run, 'checkpoints', 'sft'), { recursive: true });
      write(join(ctx.run, 'checkpoints', 'sft', 'latest.json'), '{"stepsDone": 3, "dir": "/etc", "logOffsets": {}}');
    },
    args: (ctx) => ['run', '--resume', ctx.run],
    exit: 1,
    names: () => ['latest.json', 'dir', 'logOffsets.metrics'],
  },
  {
    name: 'resume after config.resolved.json was edited by hand',
    setup: (ctx) => {
      const path = join(ctx.run, 'config.resolved.json');
      const config = JSON.parse(readText(path)) as Record<string, unknown>;
      write(path, `${JSON.stringify({ ...config, seed: 99 }, null, 2)}\n`);
    },
    args: (ctx) => ['run', '--resume', ctx.run],
    exit: 2,
    names: () => ['config.resolved.json', 'changed after the run started'],
  },
  {
    name: 'eval with a truncated config.resolved.json',
    setup: (ctx) => write(join(ctx.run, 'config.resolved.json'), '{"name": "tiny", "se'),
    args: (ctx) => ['eval', '--run', ctx.run, '--model', 'sft'],
    exit: 2,
    names: () => ['config.resolved.json'],
  },
  {
    name: 'report with a damaged run manifest',
    setup: (ctx) => write(join(ctx.run, 'manifest.json'), 'garbage'),
    args: (ctx) => ['report', ctx.run],
    exit: 1,
    names: () => ['manifest.json', 'not valid JSON'],
  },
  {
    name: 'report with a damaged results.json',
    setup: (ctx) => write(join(ctx.run, 'results.json'), '{"rows": 3}'),
    args: (ctx) => ['report', ctx.run],
    exit: 1,
    names: () => ['results.json', 'rows'],
  },
  {
    name: 'report with a damaged line in a metrics log',
    setup: (ctx) => {
      write(join(ctx.run, 'results.json'), JSON.stringify(minimalResults(ctx)));
      write(join(ctx.run, 'metrics', 'sft.jsonl'), '{"stage": "sft", "step": 1, "loss": 2.5}\n{"stage": "sft", "st\n');
    },
    args: (ctx) => ['report', ctx.run],
    exit: 1,
    names: () => ['metrics/sft.jsonl:2', 'not valid JSON'],
  },
  {
    name: 'run --out under a file',
    setup: (ctx) => write(join(ctx.dir, 'blocker'), 'a file'),
    args: () => ['run', '--out', 'blocker/run'],
    exit: 1,
    names: () => ['blocker/run', 'a part of the path is a file'],
  },
  {
    name: 'run --set model.tiny.maxSeqLen=8 (fails before any worker starts)',
    args: () => ['run', '--out', 'r', '--set', 'model.tiny.maxSeqLen=8'],
    exit: 2,
    names: () => ['model.tiny.maxSeqLen', 'at least'],
  },
  {
    name: "--set 'seed=[1,2' (not YAML)",
    args: () => ['config', '--set', 'seed=[1,2'],
    exit: 2,
    names: () => ['--set', 'seed=[1,2', 'not valid YAML'],
  },
  {
    name: 'data import of an empty file',
    setup: (ctx) => write(join(ctx.dir, 'empty.jsonl'), ''),
    args: () => ['data', 'import', 'vsp-frozenlake', 'empty.jsonl', '--out', 'out'],
    exit: 1,
    names: () => ['empty.jsonl', 'holds no records'],
  },
  {
    name: 'data import with --levels that match nothing',
    args: () => ['data', 'import', 'vsp-frozenlake', 'benchmarks/vsp-frozenlake.jsonl', '--out', 'out', '--levels', '9'],
    exit: 1,
    names: () => ['--levels 9', 'levels in the file'],
  },
  {
    name: 'data import of a file with a leading BOM (imported, BOM dropped)',
    setup: (ctx) => write(join(ctx.dir, 'bom.jsonl'), '\ufeff{"level": 3, "rows": ["FGF", "FFF", "FSF"]}\n'),
    args: () => ['data', 'import', 'vsp-frozenlake', 'bom.jsonl', '--out', 'out'],
    exit: 0,
    needsHint: false,
    names: () => [],
  },
  {
    name: 'score of a responses file with a leading BOM (scored, BOM dropped)',
    setup: (ctx) => write(join(ctx.dir, 'bom.jsonl'), '\ufeff{"id": "vsp-frozenlake/0", "response": "<answer>U U</answer>"}\n'),
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', 'bom.jsonl'],
    exit: 0,
    needsHint: false,
    names: () => [],
  },
  {
    name: 'data import of a binary file',
    setup: (ctx) => write(join(ctx.dir, 'image.jsonl'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x0a, 0x1b, 0x5d])),
    args: () => ['data', 'import', 'vsp-frozenlake', 'image.jsonl', '--out', 'out'],
    exit: 1,
    names: () => ['image.jsonl', 'binary file'],
  },
  {
    name: 'score of a binary responses file',
    setup: (ctx) => write(join(ctx.dir, 'r.bin'), new Uint8Array([0xff, 0xfe, 0x00, 0x41, 0x0a, 0x07])),
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', 'r.bin'],
    exit: 1,
    names: () => ['r.bin', 'binary file'],
  },
  {
    name: 'data import of a long text file that is not JSONL (listing capped)',
    setup: (ctx) => write(join(ctx.dir, 'notes.jsonl'), 'just some words\n'.repeat(500)),
    args: () => ['data', 'import', 'vsp-frozenlake', 'notes.jsonl', '--out', 'out'],
    exit: 1,
    names: () => ['notes.jsonl:1', 'and 480 more'],
  },
  {
    name: 'a folder as --config',
    setup: (ctx) => mkdirSync(join(ctx.dir, 'exp.yaml')),
    args: () => ['config', '--config', 'exp.yaml'],
    exit: 2,
    names: () => ['exp.yaml', 'folder'],
  },
  {
    name: 'a folder as --config without a .yaml name',
    setup: (ctx) => mkdirSync(join(ctx.dir, 'configs')),
    args: () => ['run', '--config', 'configs'],
    exit: 2,
    names: () => ['configs', 'is a folder'],
  },
  {
    name: 'a folder as --responses',
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.dataset],
    exit: 1,
    names: () => ['responses file', 'folder'],
  },
  {
    name: 'score --out under a file (unwritable), found before scoring',
    setup: (ctx) => write(join(ctx.dir, 'blocker'), 'a file'),
    args: (ctx) => ['score', '--dataset', ctx.dataset, '--responses', ctx.responses, '--out', 'blocker/graded.jsonl'],
    exit: 1,
    names: () => ['--out', 'blocker/graded.jsonl'],
  },
  {
    name: 'eval --out under a file (unwritable), found before evaluating',
    setup: (ctx) => write(join(ctx.dir, 'blocker'), 'a file'),
    args: (ctx) => ['eval', '--run', ctx.run, '--model', ctx.checkpoint, '--dataset', ctx.dataset, '--out', 'blocker/x.jsonl'],
    exit: 1,
    names: () => ['--out', 'blocker/x.jsonl'],
  },
  {
    name: 'data import --out under a file: the error names --out, not the staging folder',
    setup: (ctx) => write(join(ctx.dir, 'blocker'), 'a file'),
    args: () => ['data', 'import', 'vsp-frozenlake', 'benchmarks/vsp-frozenlake.jsonl', '--out', 'blocker/ds', '--limit-per-level', '1'],
    exit: 1,
    names: () => ['--out', 'blocker/ds:'],
  },
];

/** A results.json with no rows, as a run with nothing evaluated would have. */
function minimalResults(ctx: CaseContext): Record<string, unknown> {
  return {
    rows: [],
    macro: {},
    macro_optimal: {},
    perception: {},
    modality_gap: {},
    gap_closed: null,
    run: { name: 'tiny', seed: 0, profile: 'compact', model: 'tiny', dataset: ctx.dataset },
    wall_seconds: 1,
  };
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
