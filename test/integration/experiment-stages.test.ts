/**
 * The `experiment/` stages on real tiny workers, with a hand-assembled `PipelineContext` (what
 * `runPipeline` builds) over a miniature config and dataset:
 * - the base stage trains, records itself in `run-state.json`, and is skipped once finished;
 * - a stop request during the cold-start SFT ends it with `RunInterrupted` and a resume hint, and
 *   reopening the stage resumes from its checkpoint, cutting back what was logged after it;
 * - OPSD is skipped when the run state says it finished;
 * - `evaluateModel` writes each evaluation and its summary, `isEvaluated` sees them, and a second
 *   call reads them back instead of evaluating again.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { BackendClient } from '../../src/backend/client.js';
import { RunInterrupted } from '../../src/errors.js';
import type { PipelineContext } from '../../src/experiment/context.js';
import { workerFor } from '../../src/experiment/context.js';
import { type EvaluationPlan, evaluateModel, isEvaluated } from '../../src/experiment/evaluations.js';
import { placementOf } from '../../src/experiment/models.js';
import { runOpsdPipelineStage } from '../../src/experiment/opsd-stage.js';
import { RunState } from '../../src/experiment/run-state.js';
import { runBaseStage, runColdStartStage } from '../../src/experiment/stages.js';
import { ImageSource } from '../../src/rollout/views.js';
import { miniConfigAndDataset, runServices, scratch, startWorkers } from '../helpers/tiny-setup.js';

function lineCount(path: string): number {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0;
}

describe('experiment stages on real tiny workers', () => {
  const work = scratch('stages');
  let client: BackendClient;
  let context: PipelineContext;
  let printed: string[];

  beforeAll(async () => {
    const { config, data } = miniConfigAndDataset(work, ['stages.sft.steps=3']);
    const services = runServices(join(work, 'run'));
    printed = services.printed;
    const placement = placementOf(config);
    client = await startWorkers(Object.keys(placement.workers), services.run.logs);
    const { dataset } = data;
    const splits = {
      train: dataset.records.filter((r) => r.split === 'train'),
      val: dataset.records.filter((r) => r.split === 'val'),
      test: dataset.records.filter((r) => r.split === 'test'),
    };
    const images = new ImageSource({ profile: config.profile, renderStyle: config.data.renderStyle, imageSizePx: config.data.imageSizePx });
    context = {
      config,
      services,
      dataset,
      splits,
      client,
      placement,
      images,
      state: new RunState(services.run),
      evaluation: { config, run: services.run, images, test: splits.test, note: (m) => printed.push(m) },
    };
  });
  afterAll(async () => {
    await client?.close();
  });

  it('the base stage trains, records itself in run-state.json, and is skipped once finished', async () => {
    const { run } = context.services;
    const base = await runBaseStage(context);
    expect(base).toEqual({ stepsDone: 2, checkpoint: join('checkpoints', 'base', 'step-000002') });
    expect(JSON.parse(readFileSync(run.state, 'utf8'))).toEqual({ stages: { base } });
    expect(lineCount(run.metrics('base'))).toBe(2);

    const metricsBefore = readFileSync(run.metrics('base'));
    const again = await runBaseStage({ ...context, state: new RunState(run) });
    expect(again).toEqual(base);
    expect(readFileSync(run.metrics('base')).equals(metricsBefore)).toBe(true);
  });

  it('a stop request ends SFT with RunInterrupted and a resume hint; reopening resumes and cuts back the logs', async () => {
    const { run } = context.services;
    const base = context.state.get('base');
    const metrics = run.metrics('sft');
    // Ctrl-C arrives once step 1 is logged: the loop checks the flag before each step.
    context.services.stop = {
      get requested() {
        return lineCount(metrics) >= 1;
      },
    } as { requested: boolean };
    const stopped = runColdStartStage(context, base);
    await expect(stopped).rejects.toBeInstanceOf(RunInterrupted);
    await expect(stopped).rejects.toMatchObject({
      message: 'interrupted during sft after 1 steps; the state was checkpointed',
      hint: `Continue with: npx mgsd run --resume ${run.root}`,
    });
    expect(context.state.get('sft')).toBeNull();
    expect(JSON.parse(readFileSync(join(run.checkpoints('sft'), 'latest.json'), 'utf8'))).toMatchObject({ stepsDone: 1 });

    writeFileSync(metrics, `${readFileSync(metrics, 'utf8')}{"stage":"sft","step":99}\n`); // logged after the checkpoint
    context.services.stop = { requested: false };
    const sft = await runColdStartStage(context, base);
    expect(sft).toEqual({ stepsDone: 3, checkpoint: join('checkpoints', 'sft', 'step-000003') });
    expect(printed).toContain('[sft] resuming after step 1\n');
    expect(readFileSync(metrics, 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { step: number }).step)).toEqual([1, 2, 3]);
  });

  it('OPSD is skipped, writing nothing, when the run state says it finished', async () => {
    const finished = { stepsDone: 7, checkpoint: join('checkpoints', 'opsd', 'step-000007') };
    const state = new RunState(context.services.run);
    state.finish('opsd', finished);
    const result = await runOpsdPipelineStage({ ...context, state }, context.state.get('sft'));
    expect(result).toEqual(finished);
    expect(existsSync(context.services.run.metrics('opsd'))).toBe(false);
    expect(existsSync(context.services.run.checkpoints('opsd'))).toBe(false);
  });

  it('evaluateModel writes each evaluation once; isEvaluated sees it and a second call reads it back', async () => {
    const services = context.evaluation;
    const plan: EvaluationPlan = { inputs: ['image', 'text'], perception: true };
    const model = { name: 'sft', worker: workerFor(context, 'student'), role: 'student' }; // loaded by the SFT stage
    expect(isEvaluated(services, 'sft', plan)).toBe(false);

    const first = await evaluateModel(services, model, plan);
    expect(isEvaluated(services, 'sft', plan)).toBe(true);
    expect(lineCount(services.run.evaluation('sft', 'image'))).toBe(context.splits.test.length);
    expect(lineCount(services.run.evaluation('sft', 'text'))).toBe(context.splits.test.length);
    expect(first.image!.n).toBe(context.splits.test.length);
    expect(first.perception).not.toBeNull();
    expect(printed.filter((line) => line.startsWith('[eval] sft/'))).toHaveLength(2);

    // A finished part is read back, not recomputed: a mark written into its summary comes back.
    const summary = services.run.evaluation('sft', 'text').replace(/\.jsonl$/, '.summary.json');
    writeFileSync(summary, JSON.stringify({ ...first.text, n: -1 }));
    const second = await evaluateModel(services, model, plan);
    expect(second.text!.n).toBe(-1);
    expect(second.image).toEqual(first.image);
    expect(printed.filter((line) => line.startsWith('[eval] sft/'))).toHaveLength(2);
  });
});
