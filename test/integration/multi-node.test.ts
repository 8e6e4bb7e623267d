/**
 * A group that spans two "nodes" on one machine, as a user runs it: `mgsd run` on node 0 with
 * `backend.rendezvous.nodes = 2` and `mgsd join --node-rank 1` beside it. The run completes with
 * the same metrics and results as a one-node group of 2 ranks (the rows split the same way), the
 * join exits 0 once rank 0 stops the group, and a wrong node rank is refused before any rank starts.
 * A second `mgsd join` of the same node is refused within seconds (its rank is claimed at the
 * rendezvous, `group/claim.py`), while the run and the first join finish.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-multi-node-'));

const MINI = [
  'tasks.frozenlake.levels=[3]',
  'tasks.maze.enabled=false',
  'tasks.minibehaviour.enabled=false',
  'tasks.frozenlake.perLevel={train: 32, val: 4, test: 6}',
  'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, patchPx: 8, maxSeqLen: 160}',
  'model.path=null',
  'stages.base={enabled: true, steps: 3, batchSize: 8}',
  'stages.sft={steps: 2, batchSize: 8}',
  'stages.opsd={steps: 3, batchSize: 8, checkpointEvery: 2, estimator: full, rollout: {maxNewTokens: 24}}',
  'baselines.visualSft={enabled: false}',
  'baselines.grpo={enabled: false}',
  'eval.maxNewTokens=24',
  'eval.validation.maxNewTokens=24',
  'eval.outOfDistribution=[]',
  'backend.separateTeacherWorker=false',
  `data.cacheDir=${join(WORK, 'datasets')}`,
  'reuse.enabled=false',
];

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, done: new Promise<Exit>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))) };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `path` contains `text`; rejects when `giveUp` settles first or after `timeoutMs`. */
async function waitForText(path: string, text: string, giveUp: Promise<Exit>, timeoutMs: number): Promise<void> {
  let ended: Exit | undefined;
  void giveUp.then((exit) => (ended = exit));
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    if (existsSync(path) && readFileSync(path, 'utf8').includes(text)) return;
    if (ended !== undefined) throw new Error(`exited (code ${ended.code}) before ${path} said "${text}":\n${ended.stderr}`);
  }
  throw new Error(`${path} did not say "${text}" within ${timeoutMs} ms`);
}

const sets = (overrides: string[]) => overrides.flatMap((override) => ['--set', override]);

/** A results file or metrics log without its wall-clock fields. */
function stable(path: string): unknown {
  const drop = (value: Record<string, unknown>) => Object.fromEntries(Object.entries(value).filter(([key]) => !key.endsWith('_seconds') && key !== 'run'));
  if (path.endsWith('.json')) return drop(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => drop(JSON.parse(line) as Record<string, unknown>));
}

describe('a group over two nodes (mgsd join)', () => {
  it('runs to the end with node 1 joined, exactly as one node of 2 ranks, and the join exits with the group', async () => {
    const port = await freePort();
    const twoNodes = sets([...MINI, 'backend.ranks=1', `backend.rendezvous={nodes: 2, address: 127.0.0.1, port: ${port}}`]);
    const joined = start(['join', ...twoNodes, '--node-rank', '1', '--log-dir', join(WORK, 'node1-logs')]);
    const run = await start(['run', '--out', join(WORK, 'two-nodes'), ...twoNodes]).done;
    const node1 = await joined.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`the group spans 2 nodes, meeting at 127.0.0.1:${port}`);
    expect(node1.code, node1.stderr).toBe(0);
    expect(node1.stdout).toMatch(/node 1: ranks 1 stopped with the group/);
    expect(readFileSync(join(WORK, 'node1-logs', 'node1.rank1.log'), 'utf8')).toMatch(/rank 1\/2 following rank 0/);

    const oneNode = await start(['run', '--out', join(WORK, 'one-node'), ...sets([...MINI, 'backend.ranks=2'])]).done;
    expect(oneNode.code, oneNode.stderr).toBe(0);
    for (const file of ['results.json', 'metrics/opsd.jsonl', 'metrics/sft.jsonl']) {
      expect(stable(join(WORK, 'two-nodes', file)), file).toEqual(stable(join(WORK, 'one-node', file)));
    }
  }, 300_000);

  it('refuses a second join of the same node within seconds, and the run and the first join still finish', async () => {
    const port = await freePort();
    // 1,000 base steps keep the group alive ≈20 s after it forms, well past the second join's
    // start-up (≈3 s: node, Python, torch); without the group its claim would wait for rank 0.
    const long = ['stages.base={enabled: true, steps: 1000, batchSize: 8}'];
    const twoNodes = sets([...MINI, ...long, 'backend.ranks=1', `backend.rendezvous={nodes: 2, address: 127.0.0.1, port: ${port}}`]);
    const logDir = join(WORK, 'twice-logs'); // the same command typed twice: the same log directory
    const first = start(['join', ...twoNodes, '--node-rank', '1', '--log-dir', logDir]);
    const run = start(['run', '--out', join(WORK, 'joined-twice'), ...twoNodes]);
    // The second join starts once the first holds rank 1, so which one is refused is fixed.
    await waitForText(join(logDir, 'node1.rank1.log'), 'claimed its rank at the rendezvous', Promise.race([first.done, run.done]), 120_000);
    const startedMs = Date.now();
    const extra = start(['join', ...twoNodes, '--node-rank', '1', '--log-dir', logDir]);
    const second = await Promise.race([extra.done, run.done.then(() => undefined)]);
    const seconds = (Date.now() - startedMs) / 1000;
    if (second === undefined) {
      extra.child.kill('SIGTERM');
      throw new Error(`the run ended before the second join was refused (after ${seconds} s): no refusal, or a run too short for this machine:\n${(await extra.done).stderr}`);
    }
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toContain(`node 1: rank 1 of 2 is already held by another process at the rendezvous 127.0.0.1:${port}: is \`mgsd join --node-rank 1\` running twice?`);
    expect(second.stderr).toMatch(/refused to join the rank group: rank 1 of 2 is already held by another process in this group \(pid \d+ on host /);
    expect(second.stderr).toMatch(/Stop the extra `mgsd join --node-rank 1`/);
    expect(seconds, 'node, Python and torch start-up, then one store round trip').toBeLessThan(30);

    const [runExit, firstExit] = await Promise.all([run.done, first.done]);
    expect(runExit.code, runExit.stderr).toBe(0);
    expect(firstExit.code, firstExit.stderr).toBe(0);
    expect(firstExit.stdout).toMatch(/node 1: ranks 1 stopped with the group/);
  }, 300_000);

  it('refuses a node rank outside the group, and a multi-node config with several workers', async () => {
    const port = await freePort();
    const bad = await start(['join', ...sets([...MINI, 'backend.ranks=1', `backend.rendezvous={nodes: 2, port: ${port}}`]), '--node-rank', '2']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--node-rank 2 is outside 1 … 1/);
    const several = await start(['join', ...sets([...MINI, 'backend.ranks=1', 'backend.separateTeacherWorker=true', `backend.rendezvous={nodes: 2, port: ${port}}`]), '--node-rank', '1']).done;
    expect(several.code).toBe(2);
    expect(several.stderr).toMatch(/backend\.rendezvous\.nodes is 2: a multi-node group is the one `main` worker/);
  }, 60_000);
});
