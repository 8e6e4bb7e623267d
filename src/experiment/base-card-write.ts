/**
 * Writing the model card of a pretrained tiny base: `card.json` from what `mgsd pretrain` measured,
 * and `README.md` rendered from the card (so the two never disagree). The card lists the sha256 of
 * every file written before it, README.md included; it is written last, into the staging directory
 * that is then renamed into place as a whole (`pretrain.ts`).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import type { MetricsSummary } from '../eval/metrics.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { type BaseCard, BaseCardSchema, CARD_FILE, CARD_README, type InputMetrics } from './base-card.js';
import { sha256OfFile } from './run-files.js';

/** The card's rates for one evaluation input, from an evaluation summary. */
export function inputMetricsOf(summary: MetricsSummary): InputMetrics {
  const levels: InputMetrics['levels'] = {};
  for (const task of summary.tasks) {
    levels[task.task] = Object.fromEntries(
      task.levels.map((level) => [String(level.level), { n: level.n, success: level.success.rate, low: level.success.low, high: level.success.high }]),
    );
  }
  return { n: summary.n, macroSuccess: summary.macro.success, macroOptimalSuccess: summary.macro.optimalSuccess, levels };
}

/**
 * Writes README.md then card.json into `dir` (which already holds the model files); `card` is
 * complete except `files`, filled here with the sha256 of every file of `dir`.
 */
export function writeCard(dir: string, card: Omit<BaseCard, 'files'>): BaseCard {
  writeFileAtomic(join(dir, CARD_README), renderReadme(card));
  const files = Object.fromEntries(
    readdirSync(dir)
      .filter((file) => file !== CARD_FILE)
      .sort()
      .map((file) => [file, sha256OfFile(join(dir, file))]),
  );
  const full = BaseCardSchema.parse({ ...card, files });
  writeFileAtomic(join(dir, CARD_FILE), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)} %`;

/** The human-readable card. */
export function renderReadme(card: Omit<BaseCard, 'files'>): string {
  const { metrics, training, machine } = card;
  const rows: string[] = [];
  for (const [task, levels] of Object.entries(metrics.text.levels)) {
    for (const [level, text] of Object.entries(levels)) {
      const teacher = metrics.teacher.levels[task]?.[level];
      const interval = (rate: { low: number; high: number }): string => `${(rate.low * 100).toFixed(1)}–${(rate.high * 100).toFixed(1)}`;
      const teacherCell = teacher === undefined ? '–' : `${percent(teacher.success)} (${interval(teacher)})`;
      rows.push(`| ${task} | ${level} | ${text.n} | ${percent(text.success)} (${interval(text)}) | ${teacherCell} |`);
    }
  }
  const cpu = training.cpuSeconds === null ? 'not measured' : `${Math.round(training.cpuSeconds)} s`;
  return [
    '# Tiny base model (text-only symbolic planning)',
    '',
    `Written by \`mgsd pretrain\` (mgsd ${card.mgsd}${card.gitCommit === null ? '' : `, commit ${card.gitCommit.slice(0, 12)}`}) on ${card.createdAt}.`,
    'It is the tiny preset\'s stand-in for a pretrained VLM: the frozen teacher and the student\'s starting point',
    `of \`mgsd run\`. Machine-readable card: \`${CARD_FILE}\` (the resolved recipe, its hash, the dataset, the metrics`,
    'and the sha256 of every file).',
    '',
    '## Metrics on the test split (greedy decoding)',
    '',
    `- Text-only task-macro success: **${percent(metrics.text.macroSuccess)}** (n ${metrics.text.n})`,
    `- Teacher view with the reference plan, task-macro success: **${percent(metrics.teacher.macroSuccess)}** (n ${metrics.teacher.n})`,
    '',
    '| task | level | n | text-only success (95 % CI) | teacher view success (95 % CI) |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '## How it was made',
    '',
    `Recipe \`${card.recipe.source}\`${card.recipe.overrides.length === 0 ? '' : ` with ${card.recipe.overrides.map((o) => `\`--set ${o}\``).join(' ')}`} (recipe sha256 \`${card.recipe.sha256.slice(0, 16)}…\`);`,
    `${training.steps} base-stage steps in ${training.attempts} attempt(s), ${Math.round(training.wallSeconds)} s wall and ${cpu} of CPU`,
    `on ${machine.os}, ${machine.cpu}, ${machine.cores} cores. Dataset \`${card.dataset.key.slice(0, 16)}…\` (manifest sha256 \`${card.dataset.manifestSha256.slice(0, 16)}…\`).`,
    'Other CPUs may differ in the last digits.',
    '',
    '```sh',
    `# rebuild`,
    card.commands.rebuild,
    `# re-measure the metrics above`,
    card.commands.measure,
    '```',
    '',
  ].join('\n');
}
