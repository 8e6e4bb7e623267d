/**
 * Writing a run's report from its directory alone (so `mgsd report <run>` can redo it): the results,
 * learning curves from the metrics logs, findings about the paper's ordering, and sample test
 * puzzles drawn with the paths the models predicted (rendered in the paper style for legibility).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { z } from 'zod';

import { minimumDetectableDifference, WORST_CASE_VARIANCE } from '../compare/power.js';
import { openDataset } from '../data/dataset.js';
import { readJsonl } from '../data/jsonl.js';
import type { DataRecord } from '../data/schema.js';
import { encodePng, getEnv } from '../envs/index.js';
import { ENV_NAMES, type Action, type Instance } from '../envs/types.js';
import { oodFindings } from '../eval/ood-report.js';
import { type ReportFigure, reportHtml, reportMarkdown } from '../eval/report.js';
import { type ResultsFile, ResultsFileSchema } from '../eval/results.js';
import { DataError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { lineChartSvg, type Series } from '../eval/svg-chart.js';
import { stageBatchSize, validationCurve } from '../eval/validation-curve.js';
import { readLog } from './append-log.js';
import { validateWrittenConfig } from './load.js';
import type { RunDir } from './run-dir.js';
import { type ChangedKey, formatChanges } from './config-diff.js';
import { diagnosticSections } from './report-diagnostics.js';
import { RunManifestSchema } from './run-files.js';
import { RunState } from './run-state.js';
import { SELECTED_STAGES } from './selection.js';
import type { ExperimentConfig } from './config.js';
import { BASELINE_MODELS, MODEL, resultKey, STAGE } from '../names.js';

const SAMPLE_SIZE_PX = 192;

/** Writes `report.md`, `report.html` and `report/` for the run; returns the two report paths. */
export function writeReport(run: RunDir): { markdown: string; html: string } {
  const config = validateWrittenConfig(run.readConfig().raw, run.config);
  const results = readResults(run);
  const input = {
    title: `mgsd run ${config.name} (seed ${config.seed})`,
    facts: facts(run, results),
    results,
    findings: [...findings(results), ...oodFindings(results)],
    curves: [...curves(run), ...validationFigure(run, config)],
    samples: samples(run, results),
    sections: diagnosticSections(run, results, config, changesOf(readManifest(run))),
  };
  for (const figure of [...input.curves, ...input.samples, ...input.sections.flatMap((section) => section.figures ?? [])]) {
    writeFileAtomic(join(run.reportAssets, figure.file), figure.content.kind === 'svg' ? figure.content.svg : figure.content.png);
  }
  const markdown = join(run.root, 'report.md');
  const html = join(run.root, 'report.html');
  writeFileAtomic(markdown, reportMarkdown(input));
  writeFileAtomic(html, reportHtml(input));
  return { markdown, html };
}

/**
 * `results.json`, which exists only once every evaluation finished: for an interrupted run the
 * error says which stages are done and how to finish it.
 */
export function readResults(run: RunDir): ResultsFile {
  if (!existsSync(run.results)) {
    const done = Object.keys(run.readState().stages);
    const progress = done.length === 0 ? 'no stage has finished yet' : `finished stages: ${done.join(', ')}`;
    throw new DataError('run_unfinished', `${run.root} has no results.json yet: the run has not finished its evaluations (${progress})`, {
      hint: `Finish it with \`mgsd run --resume ${run.root}\`; \`mgsd eval --run ${run.root} --model <model>\` evaluates a finished stage meanwhile.`,
      context: { path: run.results },
    });
  }
  return run.readFile(run.results, ResultsFileSchema, 'results', `Delete ${run.results} and run \`mgsd run --resume ${run.root}\` to assemble it again from the saved evaluations.`);
}

function readManifest(run: RunDir): Record<string, unknown> {
  return run.readFile(run.manifest, RunManifestSchema, 'run manifest', `Restore ${run.manifest}; it is written when the run starts.`);
}

function facts(run: RunDir, results: ResultsFile): Array<[string, string]> {
  const manifest = readManifest(run);
  const changes = changesOf(manifest);
  return [
    ['model', results.run.model],
    ['prompt profile', results.run.profile],
    ['dataset', results.run.dataset],
    ['code', `mgsd ${String(manifest.mgsd ?? '?')}${manifest.git_commit ? ` (${String(manifest.git_commit).slice(0, 10)})` : ''}`],
    ['wall time', `${(results.wall_seconds / 60).toFixed(1)} min`],
    // Older results files have no cpu_seconds; off Linux it is null.
    ...(typeof results.cpu_seconds === 'number' ? [['CPU time', `${(results.cpu_seconds / 60).toFixed(1)} min (${(results.cpu_seconds / Math.max(results.wall_seconds, 1e-9)).toFixed(2)} cores busy on average)`] as [string, string]] : []),
    ...selectionFacts(results),
    ['training seed / data seed', `${String(manifest.seed ?? '?')} / ${String(manifest.data_seed ?? '?')}`],
    ['changed from the preset', changes.length === 0 ? 'nothing' : formatChanges(changes).join(', ')],
    ...reusedOf(run),
  ];
}

/** One fact per trained model: which checkpoint was evaluated (`eval.selection`, selection.ts). */
function selectionFacts(results: ResultsFile): Array<[string, string]> {
  return Object.entries(results.selection).map(([model, s]): [string, string] => [
    `checkpoint of ${model}`,
    `${s.rule}: step ${s.step} of ${s.steps}${s.val_success === null ? '' : ` (validation macro success ${(s.val_success * 100).toFixed(1)}%)`}`,
  ]);
}

/**
 * Every trained model's validation curve on one chart, against the training samples it has seen
 * (steps × batch size), so a reader sees at equal budgets whether the curves have flattened.
 */
function validationFigure(run: RunDir, config: ExperimentConfig): ReportFigure[] {
  const lines: Series[] = SELECTED_STAGES.map((stage) => ({
    name: stage === STAGE.opsd ? `${MODEL.mgsd} (opsd)` : stage,
    points: validationCurve(run.metrics(stage), stage).map((p): [number, number] => [p.step * stageBatchSize(config, stage)!, p.macro]),
  })).filter((line) => line.points.length > 0);
  if (lines.length === 0) return [];
  const title = 'Validation macro success of every trained model';
  const svg = lineChartSvg(lines, { title, xLabel: 'training samples seen (steps × batch size)', yLabel: 'validation macro success', yRange: [0, 1] });
  return [{ caption: `${title} (eval.validation decoding; the evaluated checkpoint is chosen by eval.selection = ${config.eval.selection}).`, file: 'validation-all.svg', content: { kind: 'svg', svg } }];
}

/** The `--set` changes recorded in the manifest (none in manifests of runs before they were recorded). */
function changesOf(manifest: Record<string, unknown>): ChangedKey[] {
  return Array.isArray(manifest.changed_from_preset) ? (manifest.changed_from_preset as ChangedKey[]) : [];
}

/** One fact per stage that was reused from the stage cache: where it came from. */
function reusedOf(run: RunDir): Array<[string, string]> {
  return Object.entries(new RunState(run).all()).flatMap(([stage, finished]): Array<[string, string]> =>
    finished.reusedFrom ? [[`stage ${stage}`, `reused from ${finished.reusedFrom.run} (cache ${finished.reusedFrom.cache})`]] : [],
  );
}

/** The paper's claims, checked on this run. */
export function findings(results: ResultsFile): string[] {
  const m = results.macro;
  const out: string[] = [];
  const fmt = (key: string) => (m[key] === undefined ? 'n/a' : `${(m[key]! * 100).toFixed(1)}%`);
  const mgsdImage = resultKey(MODEL.mgsd, 'image');
  const chain = [resultKey(MODEL.base, 'image'), resultKey(MODEL.sft, 'image'), mgsdImage, resultKey(MODEL.base, 'text')].filter(
    (key) => m[key] !== undefined,
  );
  if (chain.length >= 2) {
    const holds = chain.every((key, i) => i === 0 || m[chain[i - 1]!]! <= m[key]!);
    out.push(`Ordering ${chain.join(' ≤ ')}: ${chain.map(fmt).join(' → ')} (${holds ? 'holds' : 'does not hold'}).`);
  }
  if (results.gap_closed !== null) {
    out.push(`OPSD closed ${(results.gap_closed * 100).toFixed(0)}% of the gap between sft/image and base/text (target ≥ 50%).`);
  }
  // What one seed's test split can resolve: a smaller difference is no ranking (worst case, unpaired).
  const cells = results.rows
    .filter((row) => row.model === MODEL.mgsd && row.input === 'image')
    .flatMap((row) => row.levels.map((level) => ({ task: row.task, level: level.level, n: level.n })));
  const mdd = cells.length === 0 ? null : minimumDetectableDifference(cells, 1, WORST_CASE_VARIANCE);
  for (const baseline of BASELINE_MODELS) {
    const key = resultKey(baseline, 'image');
    if (m[key] === undefined || m[mgsdImage] === undefined) continue;
    const diff = m[mgsdImage]! - m[key]!;
    const size = Math.abs(diff * 100).toFixed(1);
    const verdict =
      mdd !== null && Math.abs(diff) < mdd
        ? `a ${size}-point difference, within what this test split resolves (minimum detectable difference ${(mdd * 100).toFixed(1)} points at 80 % power, worst case); compare seeds with \`mgsd sweep\` and \`mgsd compare\``
        : `mgsd is ${diff > 0 ? 'ahead' : 'behind'} by ${size} points`;
    out.push(`${mgsdImage} ${fmt(mgsdImage)} vs ${key} ${fmt(key)}: ${verdict}.`);
  }
  for (const [model, gap] of Object.entries(results.modality_gap)) {
    out.push(`Modality gap of ${model} (text − image, macro): ${gap.macro! >= 0 ? '+' : ''}${((gap.macro ?? 0) * 100).toFixed(1)} points.`);
  }
  return out;
}

/** One chart per training signal that the logs hold. */
function curves(run: RunDir): ReportFigure[] {
  const figures: ReportFigure[] = [];
  const series = (stage: string, key: string, filter = (r: Record<string, unknown>) => r.kind === undefined): Series => ({
    name: `${stage} ${key}`,
    points: readLog(run.metrics(stage))
      .filter(filter)
      .filter((r) => typeof r[key] === 'number')
      .map((r) => [r.step as number, r[key] as number]),
  });
  const add = (file: string, title: string, yLabel: string, lines: Series[], yRange?: [number, number]) => {
    const present = lines.filter((line) => line.points.length > 0);
    if (present.length === 0) return;
    figures.push({ caption: title, file, content: { kind: 'svg', svg: lineChartSvg(present, { title, xLabel: 'training step of the stage', yLabel, ...(yRange ? { yRange } : {}) }) } });
  };
  add('loss-supervised.svg', 'Supervised stages: training loss', 'loss (nats per target token)', [STAGE.base, STAGE.sft, STAGE.visualSft].map((s) => series(s, 'loss')));
  add('opsd-kl.svg', 'OPSD: reverse KL / log-ratio', 'nats per response token', [series(STAGE.opsd, 'kl'), series(STAGE.opsd, 'log_ratio_mean')]);
  add(
    'opsd-reward.svg',
    'OPSD: rollout success (logged) and validation macro success',
    'success (fraction of puzzles)',
    [series(STAGE.opsd, 'reward_success'), series(STAGE.opsd, 'val_macro_success', (r) => r.kind === 'validation'), series(STAGE.grpo, 'reward_success')],
    [0, 1],
  );
  // The update monitor: a run whose weights barely move (bf16 masters at a small lr) shows here.
  const trained = Object.values(STAGE);
  add('update-changed.svg', 'Update monitor: share of weights changed per step', 'share of trainable weights', trained.map((s) => series(s, 'update_changed_fraction')), [0, 1]);
  add('update-rel-norm.svg', 'Update monitor: ‖Δθ‖ / ‖θ‖ per step', '‖Δθ‖ / ‖θ‖ (all trainable weights)', trained.map((s) => series(s, 'update_rel_norm')));
  add('opsd-segments.svg', 'OPSD: teacher − student log-ratio by response segment', 'nats per token', ['readout', 'plan', 'answer'].map((s) => series(STAGE.opsd, `log_ratio_${s}`)));
  return figures;
}

/** For the first test instance of each task's largest level: the puzzle with each image model's predicted path. */
function samples(run: RunDir, results: ResultsFile): ReportFigure[] {
  if (!existsSync(join(results.run.dataset, 'manifest.json'))) return [];
  const test = openDataset(results.run.dataset).records.filter((r) => r.split === 'test');
  const picked = ENV_NAMES.flatMap((task) => {
    const ofTask = test.filter((r) => r.task === task);
    const level = Math.max(...ofTask.map((r) => r.level));
    const record = ofTask.find((r) => r.level === level);
    return record ? [record] : [];
  });
  const ids = new Set(picked.map((record) => record.id));
  const models = Object.keys(results.macro).filter((key) => key.endsWith('/image')).map((key) => key.split('/')[0]!);
  const byModel = new Map(models.map((model) => [model, predictionsOf(run, model, ids)]));
  return picked.flatMap((record) => [
    groundTruthFigure(record),
    ...models.flatMap((model) => {
      const prediction = byModel.get(model)!.get(record.id);
      return prediction ? [sampleFigure(record, model, prediction)] : [];
    }),
  ]);
}

type Prediction = { actions: Action[]; response: string; success: boolean };

/** The fields of an `eval/<model>-image.jsonl` line the samples use. */
const PredictionSchema = z.looseObject({ id: z.string(), actions: z.array(z.string()), response: z.string(), success: z.boolean() });

/** The image-input predictions of `model` for `ids`, from its evaluation file (read once). */
function predictionsOf(run: RunDir, model: string, ids: ReadonlySet<string>): Map<string, Prediction> {
  const path = run.evaluation(model, 'image');
  const out = new Map<string, Prediction>();
  if (!existsSync(path)) return out;
  for (const { value } of readJsonl(path, PredictionSchema, 'evaluation file')) {
    if (ids.has(value.id)) out.set(value.id, { ...value, actions: value.actions as Action[] });
  }
  return out;
}

/** The puzzle with its reference optimal plan drawn, the left end of each gallery row. */
function groundTruthFigure(record: DataRecord): ReportFigure {
  const { spec } = getEnv(record.task);
  const instance = record.instance as Instance as never;
  const path = spec.simulate(instance, record.solution.plan).trajectory;
  const png = encodePng(spec.render(instance, { style: 'paper', sizePx: SAMPLE_SIZE_PX, path }));
  const caption = `ground truth for ${record.id}: an optimal plan of ${record.solution.optimalLength} moves (${record.solution.plan.join(' ')})`;
  return { caption, file: `sample-${record.task}-ground-truth.png`, content: { kind: 'png', png } };
}

function sampleFigure(record: DataRecord, model: string, prediction: Prediction): ReportFigure {
  const { spec } = getEnv(record.task);
  const instance = record.instance as Instance as never;
  const path = spec.simulate(instance, prediction.actions).trajectory;
  const png = encodePng(spec.render(instance, { style: 'paper', sizePx: SAMPLE_SIZE_PX, path }));
  const verdict = prediction.success ? 'success' : 'failure';
  const caption = `${model} on ${record.id} (${verdict}): ${JSON.stringify(prediction.response.slice(0, 120))}`;
  return { caption, file: `sample-${record.task}-${model}.png`, content: { kind: 'png', png } };
}
