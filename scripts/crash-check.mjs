#!/usr/bin/env node
/**
 * Hostile-process checks of `mgsd run`, repeated: the real CLI on a miniature config, a signal
 * sent mid-OPSD, then the checks a user cares about. Too slow for the test suite (a minute or more
 * per try on 2 cores); `test/integration/crash.test.ts` keeps one fast case of each.
 *
 *   node scripts/crash-check.mjs [--times 5] [--case kill-student|kill-teacher|stop-teacher|term|hup|int]
 *
 * kill-student / kill-teacher: SIGKILL that worker once OPSD has logged a step. Expect exit 1, ONE
 *   error naming the worker, pid, signal and log; no unhandled rejection; the baseline branch
 *   checkpointed; no live worker; `--resume` finishes (exit 0).
 * stop-teacher: SIGSTOP the teacher. Expect the same, with a `stopped responding` error within the
 *   heartbeat timeout (5 s here), and the stopped worker killed.
 * term / hup / int: that signal to Node. Expect exit 143 / 129 / 130, the interrupted message,
 *   checkpoints, no live worker, and `--resume` finishes.
 * int-twice-stopped: SIGSTOP the teacher, then Ctrl-C twice. Expect exit 130 at once (no
 *   checkpoint wait), the stopped worker killed (no orphan), and `--resume` finishes.
 * Prints one line per try and a summary; exits 1 if any try failed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');

/** The miniature run of test/integration/pipeline.test.ts, with a longer OPSD to hit mid-stage. */
export function miniOverrides(work) {
  return [
    'tasks.frozenlake.levels=[3]',
    'tasks.maze.levels=[3]',
    'tasks.minibehaviour.levels=[5]',
    ...['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 48, val: 6, test: 10}`),
    'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, patchPx: 8, maxSeqLen: 160}',
    'stages.base={steps: 4, batchSize: 8}',
    'stages.sft={steps: 2, batchSize: 8}',
    'stages.opsd={steps: 40, batchSize: 8, checkpointEvery: 2, rollout: {maxNewTokens: 40}}',
    'baselines.visualSft={enabled: true, steps: 40, batchSize: 8}',
    'baselines.grpo={enabled: false}',
    'eval.maxNewTokens=40',
    'eval.validation.maxNewTokens=40',
    'eval.validation.every=40',
    'backend.heartbeatTimeoutMs=5000',
    `data.cacheDir=${join(work, 'datasets')}`,
  ].flatMap((override) => ['--set', override]);
}

const EXPECTED = {
  'kill-student': { exit: 1, error: /^error: backend worker student \(pid \d+\) (rank 0 of \d+ .*)?was killed by SIGKILL/m },
  'kill-teacher': { exit: 1, error: /^error: backend worker teacher \(pid \d+\) was killed by SIGKILL/m },
  'stop-teacher': { exit: 1, error: /^error: backend worker teacher \(pid \d+\) stopped responding: no heartbeat for/m },
  term: { exit: 143, error: /^error: run stopped by SIGTERM/m },
  hup: { exit: 129, error: /^error: run stopped by SIGHUP/m },
  int: { exit: 130, error: /^error: run stopped by SIGINT/m },
  'int-twice-stopped': { exit: 130, error: null },
};

function start(args) {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  child.stdout.resume();
  const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function lines(path) {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

function workerPids(logDir) {
  const pids = {};
  if (!existsSync(logDir)) return pids;
  for (const file of readdirSync(logDir)) {
    const matches = [...readFileSync(join(logDir, file), 'utf8').matchAll(/handshake done: pid (\d+)/g)];
    if (matches.length) pids[file.replace(/\.log$/, '')] = Number(matches.at(-1)[1]);
  }
  // A worker run as a rank group (`backend.ranks`) logs per rank: its rank 0 stands for it.
  for (const [name, pid] of Object.entries(pids)) {
    const worker = name.replace(/\.rank0$/, '');
    if (worker !== name) pids[worker] ??= pid;
  }
  return pids;
}

function isAlive(pid) {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** One try of `kind` in a fresh run directory; returns a list of problems (empty = passed). */
export async function tryOnce(kind, work) {
  const run = join(work, `${kind}-${Date.now()}`);
  const first = start(['run', '--out', run, ...miniOverrides(work)]);
  const metrics = join(run, 'metrics', 'opsd.jsonl');
  let exited = false;
  void first.done.then(() => (exited = true));
  while (!exited && lines(metrics) < 3) await sleep(100);
  if (exited) return [`the run ended before OPSD logged 3 steps: ${(await first.done).stderr.slice(-800)}`];
  const pids = workerPids(join(run, 'logs'));
  if (kind === 'kill-student') process.kill(pids.student, 'SIGKILL');
  else if (kind === 'kill-teacher') process.kill(pids.teacher, 'SIGKILL');
  else if (kind === 'stop-teacher') process.kill(pids.teacher, 'SIGSTOP');
  else if (kind === 'int-twice-stopped') {
    process.kill(pids.teacher, 'SIGSTOP');
    first.child.kill('SIGINT');
    await sleep(300);
    first.child.kill('SIGINT');
  } else first.child.kill({ term: 'SIGTERM', hup: 'SIGHUP', int: 'SIGINT' }[kind]);
  const started = Date.now();
  const exit = await first.done;
  const problems = [];
  const expected = EXPECTED[kind];
  if (exit.code !== expected.exit) problems.push(`exit ${exit.code ?? exit.signal}, expected ${expected.exit}`);
  if (expected.error && !expected.error.test(exit.stderr)) problems.push(`no ${expected.error} in stderr`);
  const errorLines = (exit.stderr.match(/^error: /gm) ?? []).length;
  if (errorLines !== (expected.error ? 1 : 0)) problems.push(`${errorLines} error lines`);
  if (/unhandled|UnhandledPromiseRejection|node:internal/i.test(exit.stderr)) problems.push('unhandled rejection or raw Node crash');
  if (kind === 'stop-teacher' && Date.now() - started > 60_000) problems.push(`took ${Date.now() - started} ms to stop`);
  const aborted = kind === 'int-twice-stopped';
  const state = existsSync(join(run, 'run-state.json')) ? readFileSync(join(run, 'run-state.json'), 'utf8') : '';
  if (!aborted && !existsSync(join(run, 'checkpoints', 'visual-sft', 'latest.json')) && !state.includes('"visual-sft"')) {
    problems.push('the baseline branch left no checkpoint');
  }
  for (let i = 0; i < 50 && Object.values(pids).some(isAlive); i += 1) await sleep(100);
  const orphans = Object.entries(pids).filter(([, pid]) => isAlive(pid));
  if (orphans.length) problems.push(`live workers after exit: ${orphans.map(([n, p]) => `${n} ${p}`).join(', ')}`);
  const resumed = await start(['run', '--resume', run]).done;
  if (resumed.code !== 0) problems.push(`--resume exited ${resumed.code}: ${resumed.stderr.slice(-600)}`);
  if (problems.length) problems.push(`stderr of the interrupted run:\n${exit.stderr.slice(-1500)}`);
  else rmSync(run, { recursive: true, force: true });
  return problems;
}

async function main() {
  const argv = process.argv.slice(2);
  const times = Number(argv[argv.indexOf('--times') + 1] || 5) || 5;
  const kinds = argv.includes('--case') ? [argv[argv.indexOf('--case') + 1]] : Object.keys(EXPECTED);
  const work = mkdtempSync(join(tmpdir(), 'mgsd-crash-check-'));
  let failed = 0;
  for (const kind of kinds) {
    if (!(kind in EXPECTED)) throw new Error(`unknown --case ${kind}; one of ${Object.keys(EXPECTED).join(', ')}`);
    for (let i = 1; i <= times; i += 1) {
      const started = Date.now();
      const problems = await tryOnce(kind, work);
      failed += problems.length ? 1 : 0;
      process.stdout.write(`${kind} try ${i}/${times}: ${problems.length ? 'FAIL' : 'ok'} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
      for (const problem of problems) process.stdout.write(`  - ${problem}\n`);
    }
  }
  process.stdout.write(`${failed ? `${failed} failed` : 'all passed'} (work dir ${work})\n`);
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
