/**
 * The names of a run's stages and models, declared once. Stage names key `run-state.json`,
 * the `stage` field of metrics lines and checkpoint folders; model names are what a run
 * evaluates and reports (`mgsd eval --model`, `results.json`, the report). The two differ in one
 * place only: the `mgsd` model is the `opsd` stage's best checkpoint. Renaming one here renames
 * it everywhere (an old run directory then no longer resumes: bump the run-state format too).
 * A leaf module (imports nothing), so every layer may use it.
 */

/** Training stages, in pipeline order (baselines last). */
export const STAGE = { base: 'base', sft: 'sft', opsd: 'opsd', visualSft: 'visual-sft', grpo: 'grpo' } as const;
/** A stage name. */
export type StageName = (typeof STAGE)[keyof typeof STAGE];

/** The models a run evaluates: the base, the cold start, the MGSD student, and the baselines. */
export const MODEL = { base: 'base', sft: 'sft', mgsd: 'mgsd', visualSft: 'visual-sft', grpo: 'grpo' } as const;
/** A model name. */
export type ModelName = (typeof MODEL)[keyof typeof MODEL];

/** Each model, by the stage whose checkpoint it is. */
export const MODEL_STAGES: Readonly<Record<ModelName, StageName>> = {
  [MODEL.base]: STAGE.base,
  [MODEL.sft]: STAGE.sft,
  [MODEL.mgsd]: STAGE.opsd,
  [MODEL.visualSft]: STAGE.visualSft,
  [MODEL.grpo]: STAGE.grpo,
};

/** The baseline models, in report order. */
export const BASELINE_MODELS = [MODEL.visualSft, MODEL.grpo] as const;

/** A `results.json` key: a model evaluated on one input (`mgsd/image`, `base/text`). */
export function resultKey(model: ModelName, input: 'image' | 'text'): string {
  return `${model}/${input}`;
}

/**
 * The prefix of an out-of-distribution set's evaluation parts: a model's image responses on the set
 * `vsp-frozenlake` are `eval/<model>-ood-vsp-frozenlake-image.jsonl`.
 */
export function oodPartPrefix(set: string): string {
  return `ood-${set}-`;
}
