/**
 * `mgsd data build`: generate → deduplicate → split → render → write, atomically.
 *
 * Order (it decides who wins a collision): for each task, the splits are drawn test → val → train
 * and the levels in ascending order, each group deduplicated against everything drawn before it
 * and against the published test sets of `benchmarks`. So the test split keeps every instance it
 * draws; val and train skip anything already in test (or in a benchmark). The files of
 * `trainOnlyExclusions` are added just before the train split: test and val stay exactly the
 * puzzles a build without them draws. Same input and seed →
 * byte-identical files; the manifest records the input, the counts and each file's sha256.
 */
import { DataError } from '../errors.js';
import { GENERATOR_VERSION, getEnv } from '../envs/index.js';
import { ENV_NAMES, type EnvName, type RenderStyle } from '../envs/types.js';
import { assertWritableOutput, writeAtomicDir } from './atomic-dir.js';
import { readBenchmark, resolveBenchmarkFile } from './benchmarks.js';
import { writeRecordImage, writeRecordsAndManifest } from './dataset-writer.js';
import type { DatasetManifest } from './manifest.js';
import type { ProgressReporter } from './progress.js';
import { type BenchmarkKind, type DataRecord, imagePathOf, type Split, SPLITS } from './schema.js';
import { type DrawnInstance, drawGroup, type GroupRequest } from './splits.js';

/** One task's part of a build (mapped by the CLI from `tasks.<task>` of the config). */
export interface TaskBuildInput {
  levels: number[];
  /** Instances per level and split. */
  perLevel: Record<Split, number>;
  stratify: boolean;
  holeProbability: number;
  minPathLength: number;
}

/** A published test set to keep out of every split. */
export interface BenchmarkRef {
  kind: BenchmarkKind;
  /** As written in the config; resolved with `resolveBenchmarkFile` from `BuildTarget.configDir`. */
  file: string;
  limitPerLevel: number;
}

/** Everything a build depends on (recorded in the manifest as the data config). */
export interface DatasetBuildInput {
  seed: number;
  /** Enabled tasks only. */
  tasks: Partial<Record<EnvName, TaskBuildInput>>;
  renderStyle: RenderStyle;
  imageSizePx: number;
  benchmarks: BenchmarkRef[];
  /**
   * Published files kept out of the train split only (a run's out-of-distribution sets), so test
   * and val are unchanged by them. Absent when empty, so the input of a config without them (and
   * its hash) stays what it was.
   */
  trainOnlyExclusions?: BenchmarkRef[];
}

/** Where and how to write. */
export interface BuildTarget {
  out: string;
  shouldReplace: boolean;
  toolVersion: string;
  progress: ProgressReporter;
  /** Folder of the config file: relative benchmark paths are resolved from it first (null = none). */
  configDir: string | null;
}

/** Builds a dataset into `target.out`; returns its manifest. */
export function buildDataset(input: DatasetBuildInput, target: BuildTarget): DatasetManifest {
  assertWritableOutput(target.out, { shouldReplace: target.shouldReplace });
  const benchmarks = loadBenchmarkKeys(input.benchmarks, target.configDir);
  const trainOnly = loadBenchmarkKeys(input.trainOnlyExclusions ?? [], target.configDir);
  const render = { style: input.renderStyle, sizePx: input.imageSizePx };
  return writeAtomicDir(target.out, { shouldReplace: target.shouldReplace }, (dir) => {
    const records: DataRecord[] = [];
    for (const task of ENV_NAMES) {
      const taskInput = input.tasks[task];
      if (taskInput === undefined) continue;
      const seen = new Set(benchmarks.keys.get(task) ?? []);
      const levels = [...taskInput.levels].sort((a, b) => a - b);
      const total = levels.length * SPLITS.reduce((sum, split) => sum + taskInput.perLevel[split], 0);
      const stage = target.progress.stage(`data ${task}`, total);
      const before = records.length;
      for (const split of SPLITS) {
        if (split === 'train') for (const key of trainOnly.keys.get(task) ?? []) seen.add(key);
        for (const level of levels) {
          const request = groupRequest(input.seed, task, split, level, taskInput);
          if (request.count === 0) continue;
          const offset = records.length - before;
          const drawn = drawGroup(getEnv(task).spec, request, seen, (done) => stage.update(offset + done));
          for (const item of drawn) {
            const record = toRecord(request, item);
            writeRecordImage(dir, record, render);
            records.push(record);
          }
        }
      }
      stage.done({ instances: records.length - before });
    }
    return writeRecordsAndManifest(dir, sortRecords(records), {
      toolVersion: target.toolVersion,
      generatorVersion: GENERATOR_VERSION,
      render,
      origin: { kind: 'build', seed: input.seed, config: { ...input }, benchmarksExcluded: benchmarks.summary },
    });
  });
}

function groupRequest(seed: number, task: EnvName, split: Split, level: number, input: TaskBuildInput): GroupRequest {
  return {
    task,
    split,
    level,
    count: input.perLevel[split],
    seed,
    stratify: input.stratify,
    generate: { holeProbability: input.holeProbability, minPathLength: input.minPathLength },
  };
}

function toRecord(request: GroupRequest, item: DrawnInstance): DataRecord {
  const id = `${request.task}-L${request.level}-${request.split}-${String(item.index).padStart(5, '0')}`;
  return {
    id,
    task: request.task,
    split: request.split,
    level: request.level,
    bucket: item.bucket,
    seed: item.seed,
    instance: item.instance,
    solution: {
      optimalLength: item.solution.optimalLength,
      numOptimalPlans: item.solution.numOptimalPlans,
      plan: [...item.solution.plan],
    },
    image: imagePathOf(request.split, request.task, id),
    source: { kind: 'generated', generatorVersion: GENERATOR_VERSION, candidate: item.candidate },
  };
}

/** Records in reading order inside each split file: task, level, index (the id sorts by index). */
function sortRecords(records: DataRecord[]): DataRecord[] {
  const taskOrder = (task: EnvName): number => ENV_NAMES.indexOf(task);
  return [...records].sort(
    (a, b) => taskOrder(a.task) - taskOrder(b.task) || a.level - b.level || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

interface BenchmarkKeys {
  /** task → dedup keys of every valid record of the listed files. */
  keys: Map<EnvName, Set<string>>;
  summary: Array<{ kind: BenchmarkKind; file: string; sha256: string; records: number }>;
}

/** Every record of a listed file is excluded (`limitPerLevel` only limits what is evaluated). */
function loadBenchmarkKeys(refs: readonly BenchmarkRef[], configDir: string | null): BenchmarkKeys {
  const keys = new Map<EnvName, Set<string>>();
  const summary: BenchmarkKeys['summary'] = [];
  for (const ref of refs) {
    const file = readBenchmark(ref.kind, resolveBenchmarkFile(ref.file, configDir));
    if (file.issues.length > 0) {
      const first = file.issues[0]!;
      throw new DataError('benchmark_invalid', `data.benchmarks / eval.outOfDistribution (a published file kept out of the splits): ${file.path}:${first.lineNumber}: ${first.reason}`, {
        hint: `Check the file with \`mgsd data import ${ref.kind} ${ref.file} --out <dir>\`, which lists every bad line.`,
      });
    }
    for (const entry of file.entries) {
      const task = entry.instance.task;
      const set = keys.get(task) ?? new Set<string>();
      set.add(getEnv(task).spec.dedupKey(entry.instance));
      keys.set(task, set);
    }
    summary.push({ kind: ref.kind, file: ref.file, sha256: file.sha256, records: file.entries.length });
  }
  return { keys, summary };
}
