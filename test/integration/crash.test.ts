/**
 * `mgsd run` when a process dies or is told to stop, as a user meets it (the built CLI, real
 * workers, a run far too long to finish): a SIGKILLed student gives one clear error naming it, with
 * no unhandled rejection, while the concurrent baseline checkpoints; a stopped teacher is found by
 * its heartbeat in seconds; SIGTERM checkpoints and exits 143. No worker outlives the run.
 * The repeated, slower versions (with `--resume` to the end) are `scripts/crash-check.mjs`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-crash-'));

/** A tiny run whose OPSD and visual-SFT baseline last far longer than any test waits. */
const ENDLESS = [
  ...['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 16, val: 2, test: 2}`),
  'tasks.frozenlake.levels=[3]',
  'tasks.maze.levels=[3]',
  'tasks.minibehaviour.levels=[5]',
  'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, patchPx: 8, maxSeqLen: 160}',
  'model.path=null', // a base of this shape is trained, not the shipped one loaded
  'stages.base={enabled: true, steps: 1, batchSize: 4}',
  'stages.sft={steps: 1, batchSize: 4}',
  'stages.opsd={steps: 5000, batchSize: 4, checkpointEvery: 2, rollout: {maxNewTokens: 24}}',
  'baselines.visualSft={enabled: true, steps: 5000, batchSize: 4}',
  'baselines.grpo={enabled: false}',
  'eval.maxNewTokens=24',
  'eval.validation.maxNewTokens=24',
  'eval.validation.every=5000',
  'eval.outOfDistribution=[]',
  'backend.heartbeatTimeoutMs=3000',
  `data.cacheDir=${join(WORK, 'datasets')}`,
  `reuse.cacheDir=${join(WORK, 'stages')}`,
].flatMap((override) => ['--set', override]);

interface Exit {
  code: number | null;
  stderr: string;
}

function start(run: string): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, 'run', '--out', run, ...ENDLESS], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  return { child, done: new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr }))) };
}

function lineCount(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** Waits until OPSD and the baseline have both logged a step; returns the worker pids by name. */
async function midOpsd(run: string, exit: Promise<Exit>): Promise<Record<string, number>> {
  let exited = false;
  void exit.then(() => (exited = true));
  while (lineCount(join(run, 'metrics', 'opsd.jsonl')) < 2 || lineCount(join(run, 'metrics', 'visual-sft.jsonl')) < 1) {
    if (exited) throw new Error(`the run ended before OPSD started:\n${(await exit).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pids: Record<string, number> = {};
  for (const file of readdirSync(join(run, 'logs'))) {
    const match = /handshake done: pid (\d+)/.exec(readFileSync(join(run, 'logs', file), 'utf8'));
    if (match) pids[file.replace(/\.log$/, '')] = Number(match[1]);
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function expectAllGone(pids: Record<string, number>): Promise<void> {
  for (let i = 0; i < 50 && Object.values(pids).some(isAlive); i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(Object.entries(pids).filter(([, pid]) => isAlive(pid))).toEqual([]);
}

/** The checks every death shares: one error line, no raw Node crash, the baseline checkpointed. */
function expectOneCleanError(exit: Exit, run: string): void {
  expect(exit.stderr.match(/^error: /gm), exit.stderr).toHaveLength(1);
  expect(exit.stderr).not.toMatch(/unhandled|node:internal|Traceback/i);
  expect(exit.stderr).toContain(`npx mgsd run --resume ${run}`);
  expect(existsSync(join(run, 'checkpoints', 'visual-sft', 'latest.json')), 'the baseline branch checkpointed').toBe(true);
}

describe('mgsd run: dying and stopped processes', () => {
  it('kill -9 of the student mid-OPSD: one error naming it, exit 1, the baseline checkpointed, no orphans', async () => {
    const run = join(WORK, 'kill-student');
    const { done } = start(run);
    const pids = await midOpsd(run, done);
    // The tiny preset runs the student as a rank group (`backend.ranks: auto`): kill its rank 0.
    const rank0 = pids['student.rank0'] ?? pids.student!;
    process.kill(rank0, 'SIGKILL');
    const exit = await done;
    expect(exit.code, exit.stderr).toBe(1);
    expect(exit.stderr).toMatch(new RegExp(`^error: backend worker student \\(pid ${rank0}\\) (rank 0 of \\d+ .*)?was killed by SIGKILL`, 'm'));
    expect(exit.stderr).toMatch(/logs\/student(\.rank0)?\.log/);
    expectOneCleanError(exit, run);
    await expectAllGone(pids);
  }, 90_000);

  it('a SIGSTOPped teacher is found by its heartbeat in seconds and killed; the run stops cleanly', async () => {
    const run = join(WORK, 'stop-teacher');
    const { done } = start(run);
    const pids = await midOpsd(run, done);
    process.kill(pids.teacher!, 'SIGSTOP');
    const stoppedAt = Date.now();
    const exit = await done;
    expect(Date.now() - stoppedAt).toBeLessThan(30_000);
    expect(exit.code, exit.stderr).toBe(1);
    expect(exit.stderr).toMatch(
      new RegExp(`^error: backend worker teacher \\(pid ${pids.teacher}\\) stopped responding: no heartbeat for [\\d.]+ s \\(the process is stopped`, 'm'),
    );
    expectOneCleanError(exit, run);
    await expectAllGone(pids);
  }, 90_000);

  it('SIGTERM checkpoints every branch and exits 143 with the resume command', async () => {
    const run = join(WORK, 'term');
    const { child, done } = start(run);
    const pids = await midOpsd(run, done);
    child.kill('SIGTERM');
    const exit = await done;
    expect(exit.code, exit.stderr).toBe(143);
    expect(exit.stderr).toMatch(/SIGTERM: stopping after the current step and checkpointing/);
    expect(exit.stderr).toMatch(/^error: run stopped by SIGTERM: interrupted during (opsd|visual-sft) after \d+ steps; the state was checkpointed/m);
    expectOneCleanError(exit, run);
    expect(existsSync(join(run, 'checkpoints', 'opsd', 'latest.json'))).toBe(true);
    await expectAllGone(pids);
  }, 90_000);
});

afterAll(() => rmSync(WORK, { recursive: true, force: true }));
