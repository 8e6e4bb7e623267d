/**
 * The comparison table: runs grouped into variants (their values of the grid keys), and for each
 * (model/input, variant, task) the per-seed success, mean ± sd, a 95 % interval, and paired tests
 * against the reference row on the same test puzzles (see `stats.ts`).
 *
 * Success per task is the level-balanced success of `results.json`; the macro is the all-task
 * macro. The paired tests compare per-puzzle success pooled over the task's puzzles (macro: over
 * every puzzle), for the seeds both rows have, and only between runs with the same `data.seed`
 * (the same puzzles); elsewhere they are left out and the row says why.
 *
 * Out-of-distribution sets (`results.json` `out_of_distribution`) come as tasks of their own,
 * `ood:<set>` and `ood:macro` (the mean over sets), paired on the set's puzzles; they never enter
 * the in-distribution `macro`.
 */
import { DataError, UsageError } from '../errors.js';
import type { ResultsFile } from '../eval/results.js';
import type { ComparedRun, PuzzleOutcome } from './read-runs.js';
import { minimumDetectableDifference, type PowerCell, type PowerStatement, powerStatement } from './power.js';
import { mcnemarExact, mean, pairedBootstrap, sampleSd, type SeedPairs, tInterval95 } from './stats.js';

/** Keys that never make two runs different experiments. */
const IGNORED_KEYS = [/^seed$/, /^name$/, /^data\.cacheDir$/, /^reuse\./, /^backend\.(python|startTimeoutMs|requestTimeoutMs)$/];

/** Paired bootstrap resamples per row. */
export const BOOTSTRAP_RESAMPLES = 2000;

/** One row of the comparison. */
export interface ComparisonRow {
  variant: string;
  values: Record<string, string>;
  model_input: string;
  task: string;
  seeds: number[];
  per_seed: number[];
  mean: number;
  sd: number;
  ci95: [number, number] | null;
  /** Row − reference, mean over the common seeds; null for the reference itself. */
  delta: number | null;
  /** mdd: the minimum detectable difference at α 0.05 / 80 % power for these seeds, from the pairs' discordance (power.ts); null for OOD rows. */
  test: { n_pairs: number; seeds: number[]; mcnemar_b: number; mcnemar_c: number; mcnemar_p: number; bootstrap_p: number; mdd: number | null } | null;
  /** Why there is no test (reference itself, no common seed, different puzzles). */
  note: string | null;
}

/** The whole comparison. */
export interface Comparison {
  grid_keys: string[];
  reference: string;
  runs: Array<{ dir: string; variant: string; seed: number; data_seed: number }>;
  skipped: string[];
  rows: ComparisonRow[];
  method: string;
  /** The smallest macro difference this comparison can detect (from the reference's test cells and seeds). */
  power: PowerStatement;
}

interface Variant {
  label: string;
  values: Record<string, string>;
  bySeed: Map<number, ComparedRun>;
}

/** Builds the comparison of `runs` (grid keys: given by sweeps, else the keys in which runs differ). */
export function compareRuns(runs: readonly ComparedRun[], gridKeys: readonly string[], referenceSpec: string | null, skipped: readonly string[] = []): Comparison {
  if (runs.length === 0) throw new DataError('no_finished_runs', 'no finished run to compare', { hint: 'Finish the runs first (they write results.json).' });
  const keys = gridKeys.length > 0 ? [...gridKeys] : differingKeys(runs);
  const variants = groupVariants(runs, keys);
  const modelInputs = [...new Set(runs.flatMap((run) => Object.keys(run.results.macro)))];
  const reference = parseReference(referenceSpec, variants, modelInputs);
  const tasks = [...new Set(runs.flatMap((run) => run.results.rows.map((row) => row.task)))];
  const oodSets = [...new Set(runs.flatMap((run) => oodOf(run).sets.map((set) => set.name)))];
  const oodTasks = oodSets.length === 0 ? [] : [...oodSets.map((set) => `${OOD_TASK}${set}`), `${OOD_TASK}macro`];
  const rows: ComparisonRow[] = [];
  for (const modelInput of modelInputs) {
    for (const variant of variants) {
      for (const task of [...tasks, 'macro', ...oodTasks]) {
        const row = summaryRow(variant, modelInput, task);
        if (row !== null) rows.push(withTest(row, variant, reference));
      }
    }
  }
  return {
    power: powerOfReference(reference),
    grid_keys: keys,
    reference: `${reference.modelInput}@${reference.variant.label}`,
    runs: variants.flatMap((variant) => [...variant.bySeed.values()].map((run) => ({ dir: run.dir, variant: variant.label, seed: run.seed, data_seed: run.dataSeed }))),
    skipped: [...skipped],
    rows,
    method:
      'success: level-balanced per task, all-task macro; mean ± sample sd over seeds; 95 % interval: Student t over seeds; ' +
      `paired tests on the same puzzles (same data.seed), pooled over the common seeds: McNemar exact on discordant puzzles, and a paired bootstrap over puzzles within seeds (${BOOTSTRAP_RESAMPLES} resamples, seeded)`,
  };
}

/** The task label prefix of an out-of-distribution set's rows (`ood:vsp-frozenlake`, `ood:macro`). */
const OOD_TASK = 'ood:';

/** A run's out-of-distribution results (none in runs from before they existed). */
function oodOf(run: ComparedRun): ResultsFile['out_of_distribution'] {
  return run.results.out_of_distribution ?? { sets: [], rows: [], macro: {}, macro_optimal: {} };
}

/** The success of `modelInput` on `task` in one run: a task, the macro, an OOD set or the OOD macro. */
function successOf(run: ComparedRun, modelInput: string, task: string): number | undefined {
  const [model, input] = modelInput.split('/');
  if (task === 'macro') return run.results.macro[modelInput];
  if (!task.startsWith(OOD_TASK)) return run.results.rows.find((r) => r.model === model && r.input === input && r.task === task)?.success;
  const set = task.slice(OOD_TASK.length);
  if (set === 'macro') return oodOf(run).macro[modelInput];
  return oodOf(run).rows.find((r) => r.model === model && r.input === input && r.set === set)?.success;
}

/** Per-puzzle outcomes behind `task`: the test split (filtered to the task) or the OOD set(s). */
function outcomesOf(run: ComparedRun, modelInput: string, task: string): PuzzleOutcome[] {
  if (!task.startsWith(OOD_TASK)) return [...run.outcomes(modelInput).values()].filter((outcome) => task === 'macro' || outcome.task === task);
  const [model, input] = modelInput.split('/');
  const set = task.slice(OOD_TASK.length);
  // Only the sets this model/input was evaluated on (base/text is, mgsd/text is not): no file is asked for that the run never wrote.
  const evaluated = oodOf(run).rows.filter((row) => row.model === model && row.input === input && (set === 'macro' || row.set === set));
  return evaluated.flatMap((row) => [...run.outcomes(modelInput, row.set).values()]);
}

function summaryRow(variant: Variant, modelInput: string, task: string): ComparisonRow | null {
  const seeds: number[] = [];
  const perSeed: number[] = [];
  for (const [seed, run] of [...variant.bySeed.entries()].sort(([a], [b]) => a - b)) {
    const value = successOf(run, modelInput, task);
    if (value === undefined) continue;
    seeds.push(seed);
    perSeed.push(value);
  }
  if (seeds.length === 0) return null;
  return { variant: variant.label, values: variant.values, model_input: modelInput, task, seeds, per_seed: perSeed, mean: mean(perSeed), sd: sampleSd(perSeed), ci95: tInterval95(perSeed), delta: null, test: null, note: null };
}

function withTest(row: ComparisonRow, variant: Variant, reference: { variant: Variant; modelInput: string }): ComparisonRow {
  if (variant === reference.variant && row.model_input === reference.modelInput) return { ...row, note: 'reference' };
  const seeds = row.seeds.filter((seed) => reference.variant.bySeed.has(seed) && reference.variant.bySeed.get(seed)!.dataSeed === variant.bySeed.get(seed)!.dataSeed);
  if (seeds.length === 0) return { ...row, note: 'no seed shared with the reference on the same puzzles (data.seed)' };
  const referenceRow = summaryRow(reference.variant, reference.modelInput, row.task);
  const deltas: number[] = [];
  const pairsBySeed: SeedPairs[] = [];
  for (const seed of seeds) {
    const run = variant.bySeed.get(seed)!;
    const refRun = reference.variant.bySeed.get(seed)!;
    const at = referenceRow?.seeds.indexOf(seed) ?? -1;
    if (at >= 0) deltas.push(row.per_seed[row.seeds.indexOf(seed)]! - referenceRow!.per_seed[at]!);
    const theirs = new Map(outcomesOf(refRun, reference.modelInput, row.task).map((outcome) => [outcome.id, outcome]));
    const pairs: Array<[boolean, boolean]> = [];
    for (const outcome of outcomesOf(run, row.model_input, row.task)) {
      const other = theirs.get(outcome.id);
      if (other !== undefined) pairs.push([outcome.success, other.success]);
    }
    pairsBySeed.push(pairs);
  }
  const flat = pairsBySeed.flat();
  if (flat.length === 0) return { ...row, note: 'no puzzle in common with the reference' };
  const mcnemar = mcnemarExact(flat);
  const cells = cellsOf(reference.variant, reference.modelInput).filter((cell) => row.task === 'macro' || cell.task === row.task);
  // A task row is that task's mean over its levels: its cells alone, as a one-task macro. OOD rows
  // (other puzzles, other weights) get none.
  const mdd = cells.length === 0 ? null : minimumDetectableDifference(cells, seeds.length, (mcnemar.b + mcnemar.c) / flat.length);
  const bootstrap = pairedBootstrap(pairsBySeed, BOOTSTRAP_RESAMPLES, `${row.variant}|${row.model_input}|${row.task}`);
  return {
    ...row,
    delta: deltas.length > 0 ? mean(deltas) : null,
    test: { n_pairs: flat.length, seeds, mcnemar_b: mcnemar.b, mcnemar_c: mcnemar.c, mcnemar_p: mcnemar.p, bootstrap_p: bootstrap.p, mdd },
  };
}

/** `model/input[@variant]`; default: mgsd/image (or the first model/input) of the first variant. */
function parseReference(spec: string | null, variants: readonly Variant[], modelInputs: readonly string[]): { variant: Variant; modelInput: string } {
  const [modelInput, label] = spec === null ? [modelInputs.includes('mgsd/image') ? 'mgsd/image' : modelInputs[0]!, null] : splitOnce(spec, '@');
  if (!modelInputs.includes(modelInput)) {
    throw new UsageError('bad_reference', `--reference ${JSON.stringify(spec)}: no model/input "${modelInput}" in these runs`, { hint: `Use one of ${modelInputs.join(', ')} (optionally @<variant>).` });
  }
  const variant = label === null ? variants[0]! : variants.find((v) => v.label === label);
  if (variant === undefined) {
    throw new UsageError('bad_reference', `--reference ${JSON.stringify(spec)}: no variant "${label}"`, { hint: `Variants: ${variants.map((v) => JSON.stringify(v.label)).join(', ')}.` });
  }
  return { variant, modelInput };
}

/** The test cells (task, level, puzzles) of `modelInput` in the variant's first seed. */
function cellsOf(variant: Variant, modelInput: string): PowerCell[] {
  const run = [...variant.bySeed.values()][0]!;
  const [model, input] = modelInput.split('/');
  return run.results.rows.filter((r) => r.model === model && r.input === input).flatMap((r) => r.levels.map((level) => ({ task: r.task, level: level.level, n: level.n })));
}

function powerOfReference(reference: { variant: Variant; modelInput: string }): PowerStatement {
  return powerStatement(cellsOf(reference.variant, reference.modelInput), reference.variant.bySeed.size);
}

function splitOnce(text: string, separator: string): [string, string | null] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
}

function groupVariants(runs: readonly ComparedRun[], keys: readonly string[]): Variant[] {
  const variants = new Map<string, Variant>();
  for (const run of runs) {
    const values = Object.fromEntries(keys.map((key) => [key, formatValue(valueAt(run.config, key))]));
    const label = keys.length === 0 ? 'all' : keys.map((key) => `${key}=${values[key]}`).join(', ');
    const variant = variants.get(label) ?? { label, values, bySeed: new Map() };
    const clash = variant.bySeed.get(run.seed);
    if (clash !== undefined) {
      throw new DataError('duplicate_seed', `${run.dir} and ${clash.dir} are the same variant (${label}) with the same seed ${run.seed}`, {
        hint: 'Compare them in separate calls, or pass the folders that differ in the keys you vary.',
      });
    }
    variant.bySeed.set(run.seed, run);
    variants.set(label, variant);
  }
  return [...variants.values()];
}

/** Leaf keys whose values differ between runs (the ignored keys left out). */
function differingKeys(runs: readonly ComparedRun[]): string[] {
  const flats = runs.map((run) => flatten(run.config));
  const all = [...new Set(flats.flatMap((flat) => Object.keys(flat)))].sort();
  return all.filter((key) => !IGNORED_KEYS.some((pattern) => pattern.test(key)) && new Set(flats.map((flat) => JSON.stringify(flat[key]))).size > 1);
}

function flatten(value: unknown, prefix = ''): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { [prefix]: value };
  return Object.assign({}, ...Object.entries(value).map(([key, inner]) => flatten(inner, prefix === '' ? key : `${prefix}.${key}`))) as Record<string, unknown>;
}

function valueAt(config: Record<string, unknown>, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), config);
}

function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}
