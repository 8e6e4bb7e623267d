/**
 * The dataset and scoring commands as a user runs them: `node bin/mgsd.js data …` and
 * `node bin/mgsd.js score …` on the compiled CLI (build first: `npm run build`).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type DataRecord, DataRecordSchema } from '../../src/data/schema.js';
import { getEnv } from '../../src/envs/index.js';
import type { Action, Instance, MazeInstance } from '../../src/envs/types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin', 'mgsd.js');
let work: string;

async function mgsd(...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa('node', [BIN, ...args], { cwd: work, reject: false, timeout: 120_000 });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** Relative path → sha256 of every file under `dir`. */
function treeHashes(dir: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else hashes[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
    }
  };
  walk(dir);
  return hashes;
}

function readRecords(dir: string, split: string): DataRecord[] {
  return readFileSync(join(dir, `${split}.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((line) => DataRecordSchema.parse(JSON.parse(line)));
}

/** The sources the data and score commands load: the import closure of their command modules. */
function commandSources(): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file) || !existsSync(file)) return;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)\.js'/g)) visit(resolve(dirname(file), `${match[1]}.ts`));
  };
  for (const entry of ['cli/main.ts', 'cli/commands/data.ts', 'cli/commands/score.ts']) visit(join(ROOT, 'src', entry));
  return [...seen];
}

/** Fails early, and says why, when dist/ is missing or older than the sources these commands run. */
function assertFreshBuild(): void {
  const stale = commandSources().filter((path) => {
    const built = join(ROOT, 'dist', relative(join(ROOT, 'src'), path)).replace(/\.ts$/, '.js');
    return !existsSync(built) || statSync(built).mtimeMs < statSync(path).mtimeMs;
  });
  if (stale.length > 0) {
    const names = stale.slice(0, 5).map((path) => relative(ROOT, path));
    throw new Error(`dist/ is stale or missing for ${names.join(', ')}…: run \`npm run build\` first`);
  }
}

/** Small splits over fixed levels (independent of how the tiny preset evolves). */
const SMALL = [
  '--set', 'tasks.frozenlake.levels=[3,4]',
  '--set', 'tasks.maze.levels=[3,4]',
  '--set', 'tasks.minibehaviour.levels=[5]',
  '--set', 'tasks.frozenlake.perLevel={train: 30, val: 5, test: 10}',
  '--set', 'tasks.maze.perLevel={train: 30, val: 5, test: 10}',
  '--set', 'tasks.minibehaviour.perLevel={train: 30, val: 5, test: 10}',
];

beforeAll(() => {
  assertFreshBuild();
  work = mkdtempSync(join(tmpdir(), 'mgsd-data-cli-'));
});
afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('mgsd data build', () => {
  it('gives byte-identical trees for the same seed and different instances for another seed', async () => {
    for (const [out, seed] of [['a', 7], ['b', 7], ['c', 8]] as const) {
      const result = await mgsd('data', 'build', '--out', out, '--set', `data.seed=${seed}`, ...SMALL);
      expect(result.stderr).toContain('[data frozenlake] done');
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const a = treeHashes(join(work, 'a'));
    expect(Object.keys(a).filter((file) => file.endsWith('.png'))).toHaveLength(3 * 45 + 2 * 45);
    expect(treeHashes(join(work, 'b'))).toEqual(a);
    const trainA = readRecords(join(work, 'a'), 'train').map((record) => JSON.stringify(record.instance));
    const trainC = new Set(readRecords(join(work, 'c'), 'train').map((record) => JSON.stringify(record.instance)));
    expect(trainA.filter((instance) => !trainC.has(instance)).length).toBeGreaterThan(trainA.length / 2);
    const manifest = JSON.parse(readFileSync(join(work, 'a', 'manifest.json'), 'utf8'));
    expect(manifest.counts.maze['3'].train.total).toBe(30);
    expect(manifest.origin.seed).toBe(7);
    expect(manifest.files['train.jsonl']).toBe(a['train.jsonl']);
  });

  it('refuses to overwrite an existing dataset without --force', async () => {
    const result = await mgsd('data', 'build', '--out', 'a', ...SMALL);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/already exists[^]*--force/);
  });

  // Its speed is a benchmark figure (`npm run bench:envs`), not a timed test.
  it('builds the default tiny dataset', async () => {
    const result = await mgsd('data', 'build', '--config', 'tiny', '--out', 'tiny');
    expect(result.exitCode, result.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(work, 'tiny', 'manifest.json'), 'utf8'));
    expect(manifest.counts.frozenlake['4'].train.total).toBe(1500);
    expect(manifest.counts.minibehaviour['5'].test.total).toBe(500);
  }, 90_000);
});

describe('mgsd data import', () => {
  const files = [
    ['vsp-frozenlake', 'vsp-frozenlake.jsonl', 600],
    ['vprl-frozenlake', 'vprl-frozenlake-test.jsonl', 1000],
    ['vprl-minibehaviour', 'vprl-minibehaviour-test.jsonl', 403],
  ] as const;

  it.each(files)('imports %s with the published optimal lengths', async (kind, file, count) => {
    const out = `import-${kind}`;
    const render = ['--set', 'data.renderStyle=compact', '--set', 'data.imageSizePx=64'];
    const result = await mgsd('data', 'import', kind, join(ROOT, 'benchmarks', file), '--out', out, ...render);
    expect(result.exitCode, result.stderr).toBe(0);
    const records = readRecords(join(work, out), 'test');
    expect(records).toHaveLength(count);
    expect(records[17]!.id).toBe(`${file.replace('.jsonl', '')}/17`);
    for (const record of records) {
      const source = record.source;
      if (source.kind === 'generated') throw new Error('imported record marked generated');
      if (source.publishedOptimalLength !== null) expect(record.solution.optimalLength).toBe(source.publishedOptimalLength);
    }
  }, 60_000);

  it('rejects a malformed file naming file:line for each problem and leaves nothing behind', async () => {
    const bad = join(work, 'bad.jsonl');
    writeFileSync(
      bad,
      [
        '{"level": 3, "rows": ["SFF", "FFF", "FFG"]}',
        '{"level": 3, "rows": ["SFF", "FF", "FFG"]}',
        '{"level": 3, "rows": ["SFF", "FXF", "FFG"]}',
        '{"level": 3, "rows": ["SFF", "FFF", "FFF"]}',
        '{"level": 3, "rows": ["SFF", ',
        '{"level": 3, "rows": ["SHF", "HFF", "FFG"]}',
      ].join('\n'),
    );
    const result = await mgsd('data', 'import', 'vsp-frozenlake', bad, '--out', 'bad-import');
    expect(result.exitCode).not.toBe(0);
    for (const line of [2, 3, 4, 5, 6]) expect(result.stderr).toContain(`${bad}:${line}:`);
    expect(result.stderr).not.toContain(`${bad}:1:`);
    expect(result.stderr).toContain('not valid JSON');
    expect(existsSync(join(work, 'bad-import'))).toBe(false);
    expect(readdirSync(work).filter((name) => name.startsWith('bad-import'))).toEqual([]);

    const skipping = await mgsd('data', 'import', 'vsp-frozenlake', bad, '--out', 'bad-import', '--skip-invalid');
    expect(skipping.exitCode, skipping.stderr).toBe(0);
    expect(skipping.stderr).toContain(`skipped ${bad}:4:`);
    expect(readRecords(join(work, 'bad-import'), 'test').map((record) => record.id)).toEqual(['bad/0']);
  });

  it('rejects a MiniBehaviour table that is not 2×3', async () => {
    const bad = join(work, 'bad-mb.jsonl');
    const table = [[3, 1], [4, 1], [3, 2], [4, 2], [3, 3], [2, 3]];
    writeFileSync(bad, `${JSON.stringify({ level: 5, start: [2, 4], start_dir: 3, printer: [1, 1], table, optimal_length: 5 })}\n`);
    const result = await mgsd('data', 'import', 'vprl-minibehaviour', bad, '--out', 'bad-mb');
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(new RegExp(`${bad}:1: table must be .*2 rows × 3 columns`));
  });
});

/** A plan that fails in a known way, chosen from the instance itself (not from the simulator). */
function corrupted(record: DataRecord): { plan: Action[]; kind: string } | null {
  const instance = record.instance as Instance;
  const deltas: Array<[Action, number, number, number]> = [['up', -1, 0, 1], ['down', 1, 0, 2], ['left', 0, -1, 4], ['right', 0, 1, 8]];
  if (instance.task === 'frozenlake') {
    const row = instance.rows.findIndex((line) => line.includes('S'));
    const col = instance.rows[row]!.indexOf('S');
    for (const [action, dr, dc] of deltas) {
      const cell = instance.rows[row + dr]?.[col + dc];
      if (cell === undefined) return { plan: [action], kind: 'out_of_bounds' };
      if (cell === 'H') return { plan: [action], kind: 'fell_into_hole' };
    }
    return null;
  }
  if (instance.task === 'maze') {
    const maze = instance as MazeInstance;
    const { row, col } = maze.start;
    for (const [action, dr, dc, bit] of deltas) {
      const inside = row + dr >= 0 && row + dr < maze.level && col + dc >= 0 && col + dc < maze.level;
      if (inside && (maze.walls[row]![col]! & bit) !== 0) return { plan: [action], kind: 'crossed_wall' };
    }
    return null;
  }
  return { plan: ['drop'], kind: 'drop_invalid' };
}

describe('mgsd score', () => {
  it('grades optimal plans as optimal and corrupted plans with the right failure kinds', async () => {
    const dataset = join(work, 'a');
    const records = readRecords(dataset, 'test');
    const optimal = records.map((record) => {
      const prompts = getEnv(record.task).prompts;
      return { id: record.id, response: prompts.targetResponse(record.instance as Instance, 'compact', record.solution.plan) };
    });
    writeFileSync(join(work, 'optimal.jsonl'), optimal.map((line) => JSON.stringify(line)).join('\n'));
    const good = await mgsd('score', '--dataset', dataset, '--responses', 'optimal.jsonl', '--profile', 'compact', '--summary', 'sum.json', '--out', 'graded.jsonl');
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stdout).toContain('macro average');
    const summary = JSON.parse(readFileSync(join(work, 'sum.json'), 'utf8'));
    expect(summary.macro).toMatchObject({ success: 1, optimalSuccess: 1, parsed: 1, perTaskMean: 'level-balanced' });
    expect(summary.tasks.map((task: { task: string }) => task.task)).toEqual(['frozenlake', 'maze', 'minibehaviour']);

    const [shortPlan, noAnswer] = records.filter((record) => record.solution.optimalLength > 1);
    const expected = new Map<string, string>([
      [shortPlan!.id, 'goal_not_reached'],
      [noAnswer!.id, 'no_answer'],
    ]);
    const bad = [
      { id: shortPlan!.id, response: getEnv(shortPlan!.task).prompts.formatPlan(shortPlan!.solution.plan.slice(0, 1), 'compact') },
      { id: noAnswer!.id, response: 'I cannot tell.' },
    ];
    for (const record of records) {
      const broken = corrupted(record);
      if (broken === null || expected.has(record.id)) continue;
      expected.set(record.id, broken.kind);
      const prompts = getEnv(record.task).prompts;
      bad.push({ id: record.id, response: prompts.targetResponse(record.instance as Instance, 'compact', broken.plan) });
    }
    writeFileSync(join(work, 'bad.jsonl'), bad.map((line) => JSON.stringify(line)).join('\n'));
    const graded = await mgsd('score', '--dataset', dataset, '--responses', 'bad.jsonl', '--profile', 'compact', '--out', 'bad-graded.jsonl');
    expect(graded.exitCode, graded.stderr).toBe(0);
    const lines = readFileSync(join(work, 'bad-graded.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines).toHaveLength(bad.length);
    expect(new Set(expected.values()).size).toBeGreaterThanOrEqual(5);
    for (const line of lines) {
      expect({ id: line.id, failure: line.failure, success: line.success }).toEqual({ id: line.id, failure: expected.get(line.id), success: false });
    }
  });

  it('scores several datasets together (the all-task macro), counting missing responses as failures unless skipped', async () => {
    const frozenlake = join(work, 'import-vprl-frozenlake');
    const minibehaviour = join(work, 'import-vprl-minibehaviour');
    const answered = [...readRecords(frozenlake, 'test').slice(0, 10), ...readRecords(minibehaviour, 'test').slice(0, 5)];
    const lines = answered.map((record) => ({
      id: record.id,
      response: getEnv(record.task).prompts.targetResponse(record.instance as Instance, 'compact', record.solution.plan),
    }));
    writeFileSync(join(work, 'two.jsonl'), lines.map((line) => JSON.stringify(line)).join('\n'));
    const args = ['score', '--dataset', frozenlake, '--dataset', minibehaviour, '--responses', 'two.jsonl', '--profile', 'compact'];
    const failing = await mgsd(...args, '--summary', 'two-fail.json');
    expect(failing.exitCode, failing.stderr).toBe(0);
    expect(failing.stdout).toContain('scored 15 responses (1388 test records without a response, counted as failures)');
    const fail = JSON.parse(readFileSync(join(work, 'two-fail.json'), 'utf8'));
    expect(fail).toMatchObject({ answered: 15, missing: 1388, missing_policy: 'fail' });
    expect(fail.tasks.map((task: { task: string; n: number }) => [task.task, task.n])).toEqual([['frozenlake', 1000], ['minibehaviour', 403]]);
    expect(fail.macro.success).toBeLessThan(0.05);
    const skipping = await mgsd(...args, '--missing', 'skip', '--summary', 'two-skip.json');
    expect(skipping.exitCode, skipping.stderr).toBe(0);
    expect(skipping.stdout).toContain('left out (--missing skip)');
    expect(JSON.parse(readFileSync(join(work, 'two-skip.json'), 'utf8')).macro.success).toBe(1);
  });

  it('names the line of an unknown id, of a duplicate id and of a bad line', async () => {
    const dataset = join(work, 'a');
    const id = readRecords(dataset, 'test')[0]!.id;
    const cases: Array<[string, RegExp]> = [
      [`{"id": "${id}", "response": "R"}\n{"id": "nope", "response": "R"}\n`, /unknown\.jsonl:2: id "nope" is not in the dataset/],
      [`{"id": "${id}", "response": "R"}\n\n{"id": "${id}", "response": "D"}\n`, /unknown\.jsonl:3: id ".*" was already answered at line 1/],
      [`{"id": "${id}", "answer": "R"}\n`, /unknown\.jsonl:1: record does not match[^]*response/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(join(work, 'unknown.jsonl'), text);
      const result = await mgsd('score', '--dataset', dataset, '--responses', 'unknown.jsonl');
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(message);
    }
  });
});

describe('mgsd data show and export', () => {
  it('prints a record and writes its PNG', async () => {
    const result = await mgsd('data', 'show', 'a', '--out', 'shown.png', '--plan');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/optimal length: \d+/);
    expect(result.stdout).toMatch(/optimal plans: \d+/);
    const png = PNG.sync.read(readFileSync(join(work, 'shown.png')));
    expect(png.width).toBe(40);
    const missing = await mgsd('data', 'show', 'a', '--id', 'nope');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('no record with id "nope"');
  });

  it('exports valid LLaMA-Factory rows with one <image> per image and a dataset_info entry', async () => {
    const result = await mgsd('data', 'export', 'a', '--format', 'llamafactory', '--out', 'lf/mgsd_train.jsonl', '--split', 'train', '--profile', 'compact');
    expect(result.exitCode, result.stderr).toBe(0);
    const rows = readFileSync(join(work, 'lf', 'mgsd_train.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(rows).toHaveLength(5 * 30);
    for (const row of rows) {
      const roles = row.messages.map((message: { role: string }) => message.role);
      expect(roles[roles.length - 1]).toBe('assistant');
      expect(roles).toContain('user');
      const placeholders = row.messages.map((message: { content: string }) => message.content.split('<image>').length - 1);
      expect(placeholders.reduce((a: number, b: number) => a + b, 0)).toBe(row.images.length);
      expect(existsSync(join(work, 'lf', row.images[0]))).toBe(true);
    }
    const info = JSON.parse(readFileSync(join(work, 'lf', 'dataset_info.json'), 'utf8'));
    expect(info.mgsd_train).toMatchObject({ file_name: 'mgsd_train.jsonl', formatting: 'sharegpt', columns: { messages: 'messages', images: 'images' } });
  });
});
