/**
 * Evaluating a model of the table on the run's out-of-distribution sets: the same `evaluateModel`
 * as the test split (same decoding, parser and simulator), on the set's records, with its files at
 * `eval/<model>-ood-<set>-<input>.jsonl`. Each set is its own entry in the stage cache (keyed by the
 * model and the set's import key), so `--resume` and reuse skip exactly what is already done.
 */
import type { ModelEvaluation, SetEvaluation } from '../eval/results.js';
import type { PipelineContext } from './context.js';
import { evaluateModel, type InputKind, isEvaluated, type ModelHandle } from './evaluations.js';
import { oodPartPrefix } from '../names.js';

/**
 * Evaluates `model` with `inputs` on every out-of-distribution set. `load` puts the model on its
 * worker; it is called only when some part has to be computed (it may be called more than once, so
 * it must be idempotent or memoised by the caller).
 */
export async function evaluateOutOfDistribution(
  context: PipelineContext,
  model: ModelHandle,
  inputs: InputKind[],
  load: () => Promise<void>,
): Promise<SetEvaluation[]> {
  const out: SetEvaluation[] = [];
  for (const set of context.outOfDistribution) {
    const partPrefix = oodPartPrefix(set.name);
    const services = { ...context.evaluation, test: set.records, partPrefix };
    const plan = { inputs, perception: false };
    const evaluation = await context.reuse.evaluation(
      model.name,
      plan,
      async () => {
        if (!isEvaluated(services, model.name, plan)) await load();
        return evaluateModel(services, model, plan);
      },
      { datasetKey: set.key, partPrefix },
    );
    out.push({ set: set.name, kind: set.kind, levels: [...set.levels], image: evaluation.image, text: evaluation.text });
  }
  return out;
}

/** `evaluation` with the model's out-of-distribution sets added (`inputs` on each set); unchanged when none are configured. */
export async function withOutOfDistribution(
  context: PipelineContext,
  model: ModelHandle,
  inputs: InputKind[],
  load: () => Promise<void>,
  evaluation: ModelEvaluation,
): Promise<ModelEvaluation> {
  if (context.outOfDistribution.length === 0) return evaluation;
  return { ...evaluation, outOfDistribution: await evaluateOutOfDistribution(context, model, inputs, load) };
}
