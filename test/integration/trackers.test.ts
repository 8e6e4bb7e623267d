/**
 * The tracker sink as a run uses it (the real Python process): metrics lines appended while it runs
 * land in TensorBoard event files in the run directory, read back through TensorBoard's own reader;
 * a tracker whose library is missing fails before any work with the pip command.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { PY_BACKEND_DIR, VENV_PYTHON } from '../../src/backend/interpreter.js';
import { startTrackerSink } from '../../src/trackers/sink.js';

function canImport(module: string): boolean {
  return spawnSync(VENV_PYTHON, ['-c', `import ${module}`]).status === 0;
}

describe('tracker sink', () => {
  it.skipIf(!canImport('tensorboard'))('mirrors lines appended during the run into TensorBoard event files', async () => {
    const run = mkdtempSync(join(tmpdir(), 'mgsd-trackers-'));
    mkdirSync(join(run, 'metrics'));
    mkdirSync(join(run, 'logs'));
    const log = join(run, 'metrics', 'sft.jsonl');
    appendFileSync(log, `${JSON.stringify({ stage: 'sft', step: 1, loss: 2 })}\n`);
    const sink = await startTrackerSink(run, ['tensorboard'], null);
    appendFileSync(log, `${JSON.stringify({ stage: 'sft', step: 2, loss: 1.5 })}\n`);
    appendFileSync(join(run, 'metrics', 'opsd.jsonl'), `${JSON.stringify({ stage: 'opsd', step: 5, kind: 'validation', val_macro_success: 0.25 })}\n`);
    await sink.close();
    const read = spawnSync(
      VENV_PYTHON,
      [
        '-c',
        'import sys, json\nfrom tensorboard.backend.event_processing.event_accumulator import EventAccumulator as A\n' +
          'a = A(sys.argv[1]); a.Reload()\nprint(json.dumps({t: [[e.step, e.value] for e in a.Scalars(t)] for t in a.Tags()["scalars"]}))',
        join(run, 'tensorboard'),
      ],
      { env: { ...process.env, PYTHONPATH: PY_BACKEND_DIR }, encoding: 'utf8' },
    );
    expect(read.status, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toEqual({ 'sft/loss': [[1, 2], [2, 1.5]], 'opsd/validation/val_macro_success': [[5, 0.25]] });
  }, 60_000);

  it.skipIf(canImport('wandb'))('names the pip command when a tracker library is missing', async () => {
    const run = mkdtempSync(join(tmpdir(), 'mgsd-trackers-'));
    mkdirSync(join(run, 'logs'));
    await expect(startTrackerSink(run, ['wandb'], null)).rejects.toThrow(/--report-to wandb: the tracker sink exited with status 3.*needs the Python package of wandb/);
    await expect(startTrackerSink(run, ['wandb'], null)).rejects.toMatchObject({ hint: expect.stringContaining('pip install -r requirements-trackers.txt') });
  }, 60_000);
});
