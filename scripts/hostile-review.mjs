#!/usr/bin/env node
/**
 * The hostile-input review, as a script to run before resolving hardening work (build first:
 * `npm run build`). It prints one line per case and the share of clear, harmless answers.
 *
 *   node scripts/hostile-review.mjs            the fast table (test/integration/hostile-input.test.ts)
 *                                              + the slow cases below
 *   node scripts/hostile-review.mjs --fast     the fast table only
 *
 * Slow cases, which start real workers or need a small file system:
 * - two `mgsd run --out d` at once: the second is refused and names the first;
 * - `kill -9` of a run, then `--resume`: the stale lock is taken over, with a note;
 * - a full disk (a 256 KiB tmpfs, when this process may mount one): `data export --format
 *   llamafactory` and `score --out` fail naming the target, and the previous files stay intact.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'mgsd.js');
const verdicts = [];

function mgsd(args, cwd) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
  return { exitCode: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function record(name, problems, detail = '') {
  verdicts.push({ name, problems, detail });
}

function fastTable() {
  const report = join(mkdtempSync(join(tmpdir(), 'mgsd-review-')), 'verdicts.json');
  spawnSync('npx', ['vitest', 'run', 'test/integration/hostile-input.test.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, MGSD_HOSTILE_REPORT: report },
  });
  if (!existsSync(report)) throw new Error('the hostile-input test wrote no report (is dist/ built?)');
  for (const verdict of JSON.parse(readFileSync(report, 'utf8'))) record(verdict.name, verdict.problems);
}

/** A config that starts quickly and trains long enough to be caught in the middle. */
const QUICK = ['--set', 'tasks.maze.enabled=false', '--set', 'tasks.minibehaviour.enabled=false', '--set', 'tasks.frozenlake.levels=[3]', '--set', 'tasks.frozenlake.perLevel={train: 200, val: 10, test: 10}'];

async function waitFor(predicate, timeoutMs) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (predicate()) return true;
    await new Promise((done) => setTimeout(done, 200));
  }
  return false;
}

async function concurrentRuns(work) {
  const run = join(work, 'run');
  const cache = ['--set', `data.cacheDir=${join(work, 'cache')}`];
  const first = spawn(process.execPath, [BIN, 'run', '--out', run, ...QUICK, ...cache], { cwd: work, stdio: 'ignore' });
  const locked = await waitFor(() => existsSync(join(run, 'run.lock')), 60_000);
  const second = mgsd(['run', '--out', run, ...QUICK, ...cache], work);
  const problems = [];
  if (!locked) problems.push('the first run never took the lock');
  if (second.exitCode !== 1) problems.push(`second run exit ${second.exitCode}, expected 1`);
  if (!second.stderr.includes(`pid ${first.pid}`)) problems.push('the refusal does not name the holder');
  const resumed = mgsd(['run', '--resume', run], work);
  if (resumed.exitCode !== 1 || !resumed.stderr.includes(`pid ${first.pid}`)) problems.push('a concurrent --resume was not refused');
  record('two `mgsd run --out d` at once (and a concurrent --resume)', problems, second.stderr.split('\n')[0]);
  // kill -9: the lock stays behind; the next command takes it over.
  first.kill('SIGKILL');
  await new Promise((done) => first.once('exit', done));
  const takeover = spawn(process.execPath, [BIN, 'run', '--resume', run], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  takeover.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const noted = await waitFor(() => stderr.includes('took over the stale lock'), 60_000);
  takeover.kill('SIGINT');
  await new Promise((done) => takeover.once('exit', done));
  record('kill -9 of a run, then --resume', noted ? [] : ['no takeover note'], stderr.split('\n')[0]);
}

function canMount() {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), 'mgsd-mount-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
}

function fullDisk(work) {
  if (!canMount()) {
    record('full disk (tmpfs)', ['skipped: this process cannot mount a tmpfs (needs root)']);
    return;
  }
  const dataset = join(work, 'ds');
  mgsd(['data', 'import', 'vsp-frozenlake', join(ROOT, 'benchmarks', 'vsp-frozenlake.jsonl'), '--out', dataset, '--levels', '3', '--limit-per-level', '20'], work);
  const disk = join(work, 'disk');
  mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
  try {
    const export1 = mgsd(['data', 'export', dataset, '--format', 'llamafactory', '--out', join(disk, 'mgsd.jsonl')], work);
    const info = join(disk, 'dataset_info.json');
    const before = readFileSync(info, 'utf8');
    const rows = readFileSync(join(disk, 'mgsd.jsonl'), 'utf8');
    writeFileSync(join(disk, 'responses.jsonl'), '{"id": "vsp-frozenlake/0", "response": "<answer>U</answer>"}\n');
    mgsd(['score', '--dataset', dataset, '--responses', join(disk, 'responses.jsonl'), '--out', join(disk, 'graded.jsonl')], work);
    const graded = readFileSync(join(disk, 'graded.jsonl'), 'utf8');
    fill(disk);
    const export2 = mgsd(['data', 'export', dataset, '--format', 'llamafactory', '--out', join(disk, 'mgsd.jsonl')], work);
    const problems = [];
    if (export1.exitCode !== 0) problems.push(`first export failed: ${export1.stderr}`);
    if (export2.exitCode !== 1) problems.push(`export on a full disk: exit ${export2.exitCode}`);
    if (!export2.stderr.includes(`--out ${join(disk, 'mgsd.jsonl')}`) || !export2.stderr.includes('no space left')) problems.push('the error does not name --out and the full disk');
    if (readFileSync(info, 'utf8') !== before) problems.push('dataset_info.json changed');
    JSON.parse(readFileSync(info, 'utf8'));
    if (readFileSync(join(disk, 'mgsd.jsonl'), 'utf8') !== rows) problems.push('the previous export changed');
    record('data export --format llamafactory on a full disk', problems, export2.stderr.split('\n')[0]);
    const score2 = mgsd(['score', '--dataset', dataset, '--responses', join(disk, 'responses.jsonl'), '--out', join(disk, 'graded.jsonl'), '--block', 'last'], work);
    const scoreProblems = [];
    if (score2.exitCode !== 1 || !score2.stderr.includes('no space left')) scoreProblems.push(`exit ${score2.exitCode}: ${score2.stderr.split('\n')[0]}`);
    if (readFileSync(join(disk, 'graded.jsonl'), 'utf8') !== graded) scoreProblems.push('the previous graded file changed');
    record('score --out on a full disk', scoreProblems, score2.stderr.split('\n')[0]);
    const leftovers = readdirSync(disk).filter((name) => name.includes('.tmp-') || name.includes('.probe-'));
    record('no temporary file left behind on a full disk', leftovers.length === 0 ? [] : [`left: ${leftovers.join(', ')}`]);
  } finally {
    spawnSync('umount', [disk]);
  }
}

/** Fills the file system of `dir` to the last byte. */
function fill(dir) {
  const chunk = Buffer.alloc(4096, 1);
  for (let index = 0; ; index += 1) {
    try {
      writeFileSync(join(dir, `filler-${index}`), chunk);
    } catch {
      break;
    }
  }
  for (let index = 0; ; index += 1) {
    try {
      writeFileSync(join(dir, `tiny-${index}`), 'x');
    } catch {
      break;
    }
  }
}

async function main() {
  fastTable();
  if (!process.argv.includes('--fast')) {
    const work = mkdtempSync(join(tmpdir(), 'mgsd-review-slow-'));
    try {
      await concurrentRuns(work);
      fullDisk(work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const judged = verdicts.filter((verdict) => !verdict.problems.some((problem) => problem.startsWith('skipped')));
  const clear = judged.filter((verdict) => verdict.problems.length === 0);
  const width = Math.max(...verdicts.map((verdict) => verdict.name.length));
  for (const verdict of verdicts) {
    const mark = verdict.problems.length === 0 ? 'clear' : verdict.problems[0].startsWith('skipped') ? 'skip ' : 'FAIL ';
    process.stdout.write(`${mark}  ${verdict.name.padEnd(width)}  ${verdict.problems.join('; ')}\n`);
  }
  const share = judged.length === 0 ? 0 : (100 * clear.length) / judged.length;
  process.stdout.write(`\n${clear.length}/${judged.length} clear and harmless (${share.toFixed(1)} %); target ≥ 95 %\n`);
  process.exitCode = share >= 95 ? 0 : 1;
}

await main();
