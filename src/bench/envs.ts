/**
 * Environment throughput benchmark (`npm run bench:envs`, after `npx tsc -p .`).
 *
 * For each task it measures, on one core (this process is single-threaded):
 * - generate + solve: instances/s over the paper levels (round-robin), drawing the requested
 *   bucket round-robin (easy, medium, hard) for Maze and MiniBehaviour as dataset builds do, and
 *   natural FrozenLake maps with the official-preset options (hole probability 0.1, min length 2);
 * - generate + solve + render (paper style, 256×256) + PNG encode, in memory;
 * - the same plus writing each PNG as a new file in a temp dir (`$TMPDIR` or the OS default; the
 *   target figure — on this project's VM a file creation alone costs 0.2–1 ms, so this figure
 *   depends on the disk as much as on the code).
 * Rates are per second of this process's CPU time (one core; robust to other load on a shared
 * machine), with wall-clock rates alongside. Seeds come from `deriveSeed`, as in dataset builds.
 * Targets: ≥ 20,000/s and ≥ 1,000/s per core. `MGSD_BENCH_MS` sets each measure's duration.
 * The last line of stdout is one JSON object with every figure.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Bucket, EnvName, GenerateOptions } from '../envs/index.js';
import { deriveSeed, encodePng, ENV_NAMES, GENERATOR_VERSION, getEnv } from '../envs/index.js';

const TARGETS = { generateSolvePerSec: 20_000, withRenderPerSec: 1_000 } as const;
const BUCKETS: readonly Bucket[] = ['easy', 'medium', 'hard'];
const FROZENLAKE_OPTIONS = { holeProbability: 0.1, minPathLength: 2 } as const;
const DURATION_MS = Number(process.env.MGSD_BENCH_MS ?? 2000);

function optionsFor(task: EnvName, index: number): GenerateOptions {
  if (task === 'frozenlake') return { bucket: null, ...FROZENLAKE_OPTIONS };
  return { bucket: BUCKETS[index % BUCKETS.length]! };
}

/** Instances per second of wall time and per second of this process's CPU time (one core). */
interface Rate {
  wall: number;
  perCore: number;
}

/** The three measures of one task. */
interface TaskRates {
  generateSolve: Rate;
  inMemory: Rate;
  withRender: Rate;
}

/**
 * Runs `work(i)` for i = 0, 1, … for about `durationMs` of wall time. The per-core rate divides by
 * the process's CPU time (user + system), so other work on a shared machine does not lower it.
 */
function measure(durationMs: number, work: (index: number) => void): Rate {
  for (let i = 0; i < 50; i += 1) work(1_000_000 + i); // warm-up
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const deadline = start + BigInt(durationMs) * 1_000_000n;
  let count = 0;
  let now = start;
  while (now < deadline) {
    for (let k = 0; k < 20; k += 1) work(count + k);
    count += 20;
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpuStart);
  return { wall: (count * 1e9) / Number(now - start), perCore: (count * 1e6) / (cpu.user + cpu.system) };
}

function benchTask(task: EnvName, dir: string): TaskRates {
  const { spec } = getEnv(task);
  const levels = spec.paperLevels;
  const instanceAt = (index: number) => {
    const level = levels[index % levels.length]!;
    const seed = deriveSeed(GENERATOR_VERSION, 'bench', task, level, index);
    const instance = spec.generate(level, seed, optionsFor(task, Math.floor(index / levels.length)));
    spec.solve(instance);
    return instance;
  };
  const generateSolve = measure(DURATION_MS, instanceAt);
  const inMemory = measure(DURATION_MS, (index) => {
    encodePng(spec.render(instanceAt(index), { style: 'paper', sizePx: 256 }));
  });
  const withRender = measure(DURATION_MS, (index) => {
    const instance = instanceAt(index);
    const png = encodePng(spec.render(instance, { style: 'paper', sizePx: 256 }));
    writeFileSync(join(dir, `${task}-${index}.png`), png); // a new file each, as dataset builds do
  });
  return { generateSolve, inMemory, withRender };
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'mgsd-bench-envs-'));
  const results: Record<string, TaskRates> = {};
  const format = (rate: Rate): string =>
    `${Math.round(rate.perCore).toLocaleString('en-US').padStart(9)}/s/core (wall ${Math.round(rate.wall).toLocaleString('en-US')}/s)`;
  try {
    for (const task of ENV_NAMES) {
      const result = benchTask(task, dir);
      results[task] = result;
      process.stdout.write(
        `${task.padEnd(14)} generate+solve ${format(result.generateSolve)}\n${''.padEnd(14)} +render 256px+PNG ${format(result.inMemory)}\n` +
          `${''.padEnd(14)} +render 256px+PNG+write ${format(result.withRender)}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pick = (key: keyof TaskRates, unit: keyof Rate): Record<string, number> =>
    Object.fromEntries(ENV_NAMES.map((task) => [task, Math.round(results[task]![key][unit])]));
  const meetsTargets = ENV_NAMES.every(
    (task) =>
      results[task]!.generateSolve.perCore >= TARGETS.generateSolvePerSec && results[task]!.withRender.perCore >= TARGETS.withRenderPerSec,
  );
  const figures = {
    bench: 'envs',
    unit: 'instances per second of one core (CPU time); wall-clock rates alongside',
    durationMsPerMeasure: DURATION_MS,
    generateSolve: pick('generateSolve', 'perCore'),
    generateSolveRenderPng: pick('inMemory', 'perCore'),
    generateSolveRenderPngWrite: pick('withRender', 'perCore'),
    wall: {
      generateSolve: pick('generateSolve', 'wall'),
      generateSolveRenderPng: pick('inMemory', 'wall'),
      generateSolveRenderPngWrite: pick('withRender', 'wall'),
    },
    targets: TARGETS,
    meetsTargets,
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main();
