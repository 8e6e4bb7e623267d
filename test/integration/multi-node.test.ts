/**
 * A group that spans two "nodes" on one machine, as a user runs it: `mgsd run` on node 0 with
 * `backend.rendezvous.nodes = 2` and `mgsd join --node-rank 1` beside it. The run completes with
 * the same metrics and results as a one-node group of 2 ranks (the rows split the same way), the
 * join exits 0 once rank 0 stops the group, and a wrong node rank is refused before any rank starts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
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
