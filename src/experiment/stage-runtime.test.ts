/**
 * Opening a stage's logs (no worker involved: nothing here checkpoints): a fresh stage starts from
 * empty logs even when an earlier attempt left lines behind, and a stage with `latest.json` resumes
 * at its step with both logs cut back to the checkpoint's offsets.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import type { WorkerHandle } from '../backend/client.js';
import { Progress } from './progress.js';
import { RunDir } from './run-dir.js';
import { openStage, type RunServices } from './stage-runtime.js';

const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function services(): RunServices {
  const root = mkdtempSync(join(tmpdir(), 'mgsd-stage-'));
  roots.push(root);
  const run = new RunDir(root);
  run.create();
  return { run, progress: new Progress({ write: () => undefined, isTty: false }), stop: { requested: false } };
}

// The worker is only used by `io.checkpoint`, which these tests never call.
const NO_WORKER = null as unknown as WorkerHandle;

describe('openStage', () => {
  it('starts a stage without a checkpoint from empty logs, dropping what a failed attempt left', () => {
    const s = services();
    mkdirSync(join(s.run.root, 'ledger'), { recursive: true });
    writeFileSync(s.run.metrics('sft'), '{"stage":"sft","step":1}\n');
    writeFileSync(s.run.ledger('sft'), '{"row":1}\n');
    const runtime = openStage(s, 'sft', 5, NO_WORKER, 'student');
    expect(runtime.resumed).toBeNull();
    expect(runtime.startStep).toBe(0);
    runtime.io.logMetrics(1, { loss: 0.5 });
    runtime.io.logLedger([{ row: 'new' }]);
    runtime.close();
    expect(readFileSync(s.run.metrics('sft'), 'utf8')).toBe('{"stage":"sft","step":1,"loss":0.5}\n');
    expect(readFileSync(s.run.ledger('sft'), 'utf8')).toBe('{"row":"new"}\n');
  });

  it('resumes at the checkpoint’s step with both logs cut back to its offsets, and mirrors the stop flag', () => {
    const s = services();
    const kept = '{"stage":"opsd","step":1}\n{"stage":"opsd","step":2}\n';
    mkdirSync(s.run.checkpoints('opsd'), { recursive: true });
    writeFileSync(s.run.metrics('opsd'), `${kept}{"stage":"opsd","step":3}\n`);
    writeFileSync(s.run.ledger('opsd'), '{"a":1}\n{"a":2}\n');
    s.run.writeJson(join(s.run.checkpoints('opsd'), 'latest.json'), {
      stepsDone: 2,
      dir: 'checkpoints/opsd/step-000002',
      logOffsets: { metrics: Buffer.byteLength(kept), ledger: Buffer.byteLength('{"a":1}\n') },
      state: { pendingRollouts: null },
    });
    const runtime = openStage(s, 'opsd', 5, NO_WORKER, 'student');
    expect(runtime.startStep).toBe(2);
    expect(runtime.resumed).toMatchObject({ stepsDone: 2, state: { pendingRollouts: null } });
    expect(readFileSync(s.run.metrics('opsd'), 'utf8')).toBe(kept);
    expect(readFileSync(s.run.ledger('opsd'), 'utf8')).toBe('{"a":1}\n');
    expect(runtime.io.shouldStop()).toBe(false);
    s.stop.requested = true;
    expect(runtime.io.shouldStop()).toBe(true);
    runtime.io.logMetrics(3, { kl: 0.1 });
    runtime.close();
    expect(readFileSync(s.run.metrics('opsd'), 'utf8')).toBe(`${kept}{"stage":"opsd","step":3,"kl":0.1}\n`);
  });
});
