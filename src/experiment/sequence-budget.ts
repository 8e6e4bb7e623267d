/**
 * A tiny-model config whose `model.tiny.maxSeqLen` cannot hold even one image prompt and one
 * generated answer is refused before any worker starts (otherwise the first batch fails inside the
 * worker, minutes later). The bound is a floor, not the exact length: the visual tokens of one
 * image, the longest generation the config asks for, and one text token.
 */
import { ConfigError } from '../errors.js';
import type { ExperimentConfig } from './config.js';

/** The smallest `model.tiny.maxSeqLen` that can work for `config` (null for hf models). */
export function minimumSequenceLength(config: ExperimentConfig): { tokens: number; visual: number; generated: number; key: string } | null {
  if (config.model.kind !== 'tiny') return null;
  const side = Math.floor(config.data.imageSizePx / config.model.tiny.patchPx);
  const generations: Array<[string, number]> = [['eval.maxNewTokens', config.eval.maxNewTokens]];
  if (config.stages.opsd.enabled) generations.push(['stages.opsd.rollout.maxNewTokens', config.stages.opsd.rollout.maxNewTokens]);
  if (config.baselines.grpo.enabled) generations.push(['baselines.grpo.rollout.maxNewTokens', config.baselines.grpo.rollout.maxNewTokens]);
  const [key, generated] = generations.reduce((longest, entry) => (entry[1] > longest[1] ? entry : longest));
  return { tokens: side * side + generated + 1, visual: side * side, generated, key };
}

/** Throws a `ConfigError` naming `model.tiny.maxSeqLen` when it is below the floor. */
export function assertSequenceBudget(config: ExperimentConfig, source: string): void {
  const floor = minimumSequenceLength(config);
  if (floor === null || config.model.tiny.maxSeqLen >= floor.tokens) return;
  throw new ConfigError(
    'max_seq_len_too_small',
    `${source}: model.tiny.maxSeqLen ${config.model.tiny.maxSeqLen} cannot hold one image prompt and its answer: ` +
      `${floor.visual} visual tokens (data.imageSizePx ${config.data.imageSizePx} / model.tiny.patchPx ${config.model.tiny.patchPx}, squared) ` +
      `+ ${floor.generated} generated tokens (${floor.key}) + the prompt text`,
    {
      hint: `Set model.tiny.maxSeqLen to at least ${floor.tokens} (more for long prompts), or lower ${floor.key}.`,
      context: { key: 'model.tiny.maxSeqLen' },
    },
  );
}
