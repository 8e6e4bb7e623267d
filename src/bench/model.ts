/**
 * `npm run bench:model`: tiny-model throughput on this machine, measured by the Python side.
 *
 * Runs `python -m mgsd_backend.bench_model` (interpreter: `$MGSD_PYTHON` or the project's `.venv`)
 * with this process's arguments passed through (e.g. `--threads-list 1,2 --steps 8`). It measures,
 * at 1 and 2 torch threads (one fresh process each): generation tokens/s at batch 32 (greedy and
 * T=1, 64 new tokens) and training steps/s at batch 64 for `sft_step` and `distill_step`
 * (compact-length sequences, 40×40 images); see py_backend/mgsd_backend/bench_model.py. Progress
 * goes to stderr; the last stdout line is the Python side's JSON object, unchanged.
 */
import { execa } from 'execa';

import { PROJECT_ROOT, resolveInterpreter, workerEnv } from '../backend/interpreter.js';

async function main(): Promise<void> {
  const python = resolveInterpreter();
  const child = await execa(python.path, ['-m', 'mgsd_backend.bench_model', ...process.argv.slice(2)], {
    cwd: PROJECT_ROOT,
    env: workerEnv(),
    stderr: 'inherit',
  });
  const lines = child.stdout.trim().split('\n');
  process.stdout.write(`${lines[lines.length - 1] ?? '{}'}\n`);
}

await main();
