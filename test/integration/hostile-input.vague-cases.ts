/**
 * The "vague → clear" half of the hostile-input review (see hostile-input.cases.ts for the table's
 * format): damaged or missing run state, interrupted runs, bad `--set` values, odd input files
 * (empty, binary, BOM, folders) and unwritable targets. Each case must name the file or key and
 * give a remedy that exists.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type CaseContext, type HostileCase, write } from './hostile-input.cases.js';

/** Cases whose old answer was a raw error, a wrong hint, or no file named. */
export const VAGUE_CASES: HostileCase[] = [
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
