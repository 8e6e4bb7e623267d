/**
 * A trained stage's validation curve, read back from its metrics log (`kind: "validation"` lines,
 * written every `eval.validation.every` steps): what checkpoint selection, the report's curves and
 * the generated docs' flattening figures all read. Curves are drawn against training samples seen
 * (steps × the stage's batch size, `stageBatchSize`), so models of different batch sizes compare.
 */
import { existsSync, readFileSync } from 'node:fs';

import { STAGE } from '../names.js';

/** One validation point of a stage's curve. */
export interface ValidationPoint {
  step: number;
  macro: number;
}

/** The validation curve of `stage` from its metrics log (empty when the log is missing). */
export function validationCurve(metricsPath: string, stage: string): ValidationPoint[] {
  if (!existsSync(metricsPath)) return [];
  const points: ValidationPoint[] = [];
  for (const line of readFileSync(metricsPath, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { stage?: string; kind?: string; step?: number; val_macro_success?: number };
    if (row.kind === 'validation' && row.stage === stage && typeof row.step === 'number' && typeof row.val_macro_success === 'number') {
      points.push({ step: row.step, macro: row.val_macro_success });
    }
  }
  return points;
}

/** The batch sizes `stageBatchSize` reads: a resolved config, or any JSON of its shape. */
export interface StageBatchSizes {
  stages?: { opsd?: { batchSize?: number } };
  baselines?: { visualSft?: { batchSize?: number }; grpo?: { batchSize?: number } };
}

/** Rows per optimizer step of a selected stage (a validation curve's x axis is steps × this). */
export function stageBatchSize(config: StageBatchSizes, stage: string): number | undefined {
  if (stage === STAGE.opsd) return config.stages?.opsd?.batchSize;
  if (stage === STAGE.visualSft) return config.baselines?.visualSft?.batchSize;
  if (stage === STAGE.grpo) return config.baselines?.grpo?.batchSize;
  return undefined;
}
