/**
 * The experiment configuration: one zod schema, the only place defaults live.
 *
 * A preset in `configs/*.yaml` is parsed through `ExperimentConfigSchema`; the type comes from
 * `z.infer`. Cross-field rules are refinements, so a config that cannot work fails at load time,
 * before any process starts. Unknown keys are errors (`strict`), so a typo never silently falls
 * back to a default. Every key carries a `.describe()` text and bounds that rule out absurd
 * values: docs/configuration.md is generated from them (`npm run gen:contract`; a test fails
 * while the page is stale), so the description IS the documentation of the key.
 */
import { z } from 'zod';

import { ESTIMATORS } from '../backend/protocol.js';
import { benchmarkNameOf } from '../data/benchmarks.js';
import { BENCHMARK_KINDS } from '../data/schema.js';
import { COMPACT_CELL_PX } from '../envs/core/canvas.js';
import { DEFAULT_HEARTBEAT_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS, WEDGED_FACTOR } from '../backend/heartbeat.js';
import { ENV_NAMES } from '../envs/types.js';
import { EvalSchema } from './config-eval.js';
import { batchSize, MAX_STEPS, nonNegativeInt, positiveInt, probability, SamplingSchema, seedSchema, steps, timeoutMs } from './config-primitives.js';

/** Sizes of one task's splits, per level. */
const SplitSizesSchema = z
  .object({
    train: nonNegativeInt.max(1_000_000).default(1000).describe('training instances per level'),
    val: nonNegativeInt.max(1_000_000).default(50).describe('validation instances per level (OPSD picks its best checkpoint on them)'),
    test: nonNegativeInt.max(1_000_000).default(100).describe('held-out test instances per level'),
  })
  .strict();

const TaskSchema = z
  .object({
    enabled: z.boolean().default(true).describe('false keeps the section but leaves the task out'),
    levels: z
      .array(z.number().int().min(2).max(16))
      .nonempty()
      .describe('grid sides, one level each (official: FrozenLake 3–8, Maze 3–6, MiniBehaviour 5–6)'),
    perLevel: SplitSizesSchema.prefault({}).describe('instances per level and split'),
    stratify: z.boolean().default(true).describe('ask the generator for easy/medium/hard round-robin (official Maze/MiniBehaviour behaviour)'),
    holeProbability: probability.default(0.2).describe('FrozenLake only: probability that a free cell is a hole (VSP ≈ 0.2; official MGSD generator 0.1)'),
    minPathLength: positiveInt.max(256).default(1).describe('FrozenLake only: minimum optimal plan length (official generator 2, VSP test sets 1)'),
  })
  .strict()
  .describe('one task; it is enabled when its section is present and `enabled` is true');

const TasksSchema = z
  .object({
    frozenlake: TaskSchema.optional(),
    maze: TaskSchema.optional(),
    minibehaviour: TaskSchema.optional(),
  })
  .strict()
  .refine((tasks) => ENV_NAMES.some((name) => tasks[name]?.enabled), {
    message: 'at least one task must be enabled',
  })
  .describe('the grid tasks to train and evaluate on; at least one must be enabled');

const DataSchema = z
  .object({
    seed: seedSchema
      .default(0)
      .describe('Seed of the generated instances and splits (the test puzzles); separate from `seed` (training), so runs that differ in training seed are scored on the same puzzles.'),
    renderStyle: z
      .enum(['paper', 'compact'])
      .default('paper')
      .describe(`image style: \`paper\` (the official look, 256 px) or \`compact\` (${COMPACT_CELL_PX} px per cell, one tiny-model patch per cell)`),
    imageSizePx: positiveInt
      .min(16)
      .max(1024)
      .default(256)
      .describe('image side in pixels; compact images must be a multiple of `model.tiny.patchPx`, and a tiny model must fit their visual tokens in `model.tiny.maxSeqLen`'),
    benchmarks: z
      .array(
        z
          .object({
            kind: z.enum(BENCHMARK_KINDS).describe('which published format the file is in'),
            file: z.string().min(1).describe("the file, relative to the config's folder, the current directory or the package root"),
            limitPerLevel: nonNegativeInt.default(0).describe('keep at most this many records per level (0 = all)'),
          })
          .strict(),
      )
      .default([])
      .describe('published test sets kept out of every split (exclusion only; `eval.outOfDistribution` evaluates on its files and keeps them out of the train split)'),
    cacheDir: z.string().min(1).default('runs/.datasets').describe('where `mgsd run` keeps built datasets, named by a hash of the data config'),
  })
  .strict()
  .describe('how datasets are built and drawn');

const ParserSchema = z
  .object({
    block: z.enum(['first', 'last']).default('last').describe('which answer block counts (`first` is the official training reward)'),
    requireTag: z.boolean().default(false).describe('without an answer tag: false reads the whole response (official benchmark), true gives no plan'),
    unknownTokens: z.enum(['fail', 'skip']).default('fail').describe('an unknown token in the answer makes the plan unparsed (`fail`) or is skipped'),
    outOfBounds: z.enum(['fail', 'stay']).default('fail').describe('leaving the grid fails the plan (official benchmark) or is a no-op (`stay`, as in gym)'),
  })
  .strict()
  .describe('how answers are read and graded (one parser for every stage)');

/** No tiny model holds a compact prompt (instructions and a 3×3 grid) and an answer in fewer tokens. */
const MIN_TINY_SEQ_LEN = 64;

const TinyModelSchema = z
  .object({
    dModel: positiveInt.max(4096).default(128).describe('width; a multiple of nHeads'),
    nLayers: positiveInt.max(64).default(4).describe('decoder blocks'),
    nHeads: positiveInt.max(64).default(4).describe('attention heads'),
    patchPx: positiveInt.max(256).default(8).describe('side of one image patch (one visual token); `data.imageSizePx` must be a multiple'),
    maxSeqLen: z
      .number()
      .int()
      .min(MIN_TINY_SEQ_LEN, { message: `must be at least ${MIN_TINY_SEQ_LEN}: no tiny model holds a prompt and an answer in fewer tokens` })
      .max(16_384)
      .default(256)
      .describe(
        "longest prompt + response in tokens; `mgsd run` checks, before any worker starts, that it holds one image's visual tokens and the longest decoding budget",
      ),
  })
  .strict()
  .refine((m) => m.dModel % m.nHeads === 0, { message: 'dModel must be divisible by nHeads' })
  .describe('shape of the tiny character-level VLM (`py_backend/mgsd_backend/models/tiny_vlm.py`)');

const LoraSchema = z
  .object({
    enabled: z.boolean().default(false).describe('train LoRA adapters instead of all weights (hf models only)'),
    rank: positiveInt.max(1024).default(8).describe('adapter rank'),
    alpha: z.number().positive().default(16).describe('adapter scale numerator (scale = alpha / rank)'),
    dropout: z.number().min(0).lt(1).default(0).describe('dropout on the adapter input'),
  })
  .strict()
  .describe('LoRA for the cold-start SFT of an hf model');

const ModelSchema = z
  .object({
    kind: z.enum(['tiny', 'hf']).default('tiny').describe('`tiny` (the character-level VLM, trained from scratch) or `hf` (a Hugging Face Qwen3-VL checkpoint)'),
    path: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe(
        'hf: a hub id (e.g. Qwen/Qwen3-VL-4B-Instruct) or a local directory — swap checkpoints here. tiny: a base directory written by `mgsd pretrain` (checked against its card.json), loaded as the frozen teacher and the student\'s start when `stages.base.enabled` is false (with the base stage on, a base is trained from scratch and this is not used); a relative path resolves from the config file\'s folder, then the current directory, then the package root',
      ),
    tiny: TinyModelSchema.prefault({}),
    dtype: z.enum(['float32', 'bfloat16']).default('float32').describe('parameter dtype'),
    device: z.enum(['cpu', 'cuda']).default('cpu').describe('a CUDA config on a machine without CUDA fails before training'),
    gradientCheckpointing: z.boolean().default(false).describe('hf only: recompute activations in the backward pass (less memory, slower)'),
    masterWeights: z
      .enum(['fp32', 'bf16'])
      .default('fp32')
      .describe(
        'hf, trained roles computing in bfloat16: `fp32` keeps float32 master weights (FSDP2 MixedPrecisionPolicy with bf16 compute and fp32 gradient reduction; autocast on a single process) so small updates are not rounded away; `bf16` updates bf16 weights in place, as the official EasyR1 launch does (for exact parity only: at lr 1e-6 most updates round to nothing).',
      ),
    teacherCpuOffload: z
      .boolean()
      .default(false)
      .describe('hf under FSDP2: keep the frozen teacher\'s shards in CPU memory (CPUOffloadPolicy), copied to the GPU one layer at a time for its forward.'),
  })
  .strict()
  .describe('the student (and, frozen, the teacher) model');

const BackendSchema = z
  .object({
    python: z.string().min(1).nullable().default(null).describe("interpreter of the workers; null = $MGSD_PYTHON when set, else the project's `.venv`"),
    threadsPerWorker: positiveInt
      .max(1024)
      .default(1)
      .describe('torch threads per worker when workers overlap (two single-thread workers beat one two-thread worker on 2 cores)'),
    soloThreads: positiveInt.max(1024).nullable().default(null).describe('threads of the student while it runs alone (the tiny base stage); null = every core'),
    ranks: z
      .union([positiveInt.max(1024), z.literal('auto')])
      .default(1)
      .describe(
        'rank processes of each training worker (the student and the baselines): a number, or `auto` for one per CPU core (one per visible GPU when model.device is cuda). The ranks split every batch by rows and sum their gradients (docs/scale-out.md); results do not depend on it beyond float reduction order. The frozen teacher keeps one rank.',
      ),
    separateTeacherWorker: z
      .boolean()
      .default(true)
      .describe("teacher and baselines in their own processes (overlapping with the student) or all in the student's worker (one GPU)"),
    rendezvous: z
      .object({
        nodes: positiveInt.max(1024).default(1).describe('machines the worker group spans; the others start their ranks with `mgsd join`'),
        address: z.string().min(1).default('127.0.0.1').describe("this machine's address as the other nodes reach it (rank 0 hosts the rendezvous)"),
        port: z.number().int().min(1).max(65535).nullable().default(null).describe('rendezvous port; null = a free port (one node only)'),
      })
      .strict()
      .prefault({})
      .describe('multi-node: the group of the one `main` worker spans `nodes` machines (docs/scale-out.md, "Multi-node")'),
    startTimeoutMs: timeoutMs.default(120_000).describe('how long a worker may take to start and say hello (the first start imports torch)'),
    requestTimeoutMs: timeoutMs.default(600_000).describe('how long one request may take before it fails (time the run was suspended, e.g. by Ctrl-Z, does not count)'),
    gpuMemoryGiB: z
      .number()
      .positive()
      .nullable()
      .default(null)
      .describe(
        'Memory of one GPU for the hf memory plan (preflight); null = the largest CUDA device in the workers\' hello, or no fit check when none reports its memory.',
      ),
    microBatchSize: positiveInt
      .nullable()
      .default(null)
      .describe(
        'Rows per forward/backward inside one training step (gradient accumulation; the loss stays the token-mean over the whole batch, so results do not depend on it beyond float rounding); null = all of the step\'s rows at once. The hf memory plan sizes activations with it.',
      ),
    heartbeatTimeoutMs: positiveInt
      .min(2 * HEARTBEAT_INTERVAL_MS)
      .default(DEFAULT_HEARTBEAT_TIMEOUT_MS)
      .describe(
        `Milliseconds without a heartbeat (each worker beats every ${HEARTBEAT_INTERVAL_MS} ms, also while an op computes) ` +
          'after which a stopped worker (SIGSTOP) counts as stalled: the run stops with an error naming it, and it is killed. ' +
          `A silent worker that is not stopped gets ${WEDGED_FACTOR} times as long before it counts as wedged ` +
          '(a native call holding the Python GIL, or an overloaded machine, can delay its beats).',
      ),
  })
  .strict()
  .describe('the Python worker processes');

const schedule = z.enum(['cosine', 'constant']);
const OptimSchema = {
  lr: z.number().positive(),
  minLrRatio: probability.default(0.1).describe('cosine floor, as a fraction of lr'),
  warmupSteps: steps.default(0).describe('linear warm-up steps'),
  schedule: schedule.default('cosine').describe('learning-rate schedule after warm-up'),
  weightDecay: z.number().min(0).max(1).default(0.01).describe('AdamW weight decay (matrices only; betas 0.9/0.999)'),
  gradClip: z.number().positive().default(1.0).describe('gradient-norm clip'),
  batchSize: batchSize,
};
const LR = 'peak learning rate (computed in TypeScript and sent with every step)';
const BATCH = 'samples per optimizer step';

/** Tiny model only: text-only symbolic pretraining, the stand-in for a base VLM's planning prior. */
const BaseStageSchema = z
  .object({
    enabled: z.boolean().default(true).describe('tiny only; an hf model is its own base'),
    steps: steps.default(600).describe('optimizer steps'),
    ...OptimSchema,
    lr: OptimSchema.lr.default(3e-3).describe(LR),
    batchSize: OptimSchema.batchSize.default(64).describe(BATCH),
    warmupSteps: steps.default(30).describe('linear warm-up steps'),
    teacherViewFraction: probability
      .default(0.3)
      .describe("fraction of prompts that are the teacher's view with the reference plan, so the frozen teacher learns to use it"),
  })
  .strict()
  .describe("tiny only: text-only symbolic pretraining, the stand-in for a base VLM's planning prior");

const SftStageSchema = z
  .object({
    enabled: z.boolean().default(true).describe('false = no cold start (an ablation)'),
    steps: steps.default(300).describe('optimizer steps'),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3).describe(LR),
    batchSize: OptimSchema.batchSize.default(64).describe(BATCH),
    target: z
      .enum(['readout', 'perception-qa'])
      .default('readout')
      .describe('what the cold start teaches: the state read-out of the planning response (no EOS: the model continues with its plan), or perception QA'),
    rehearsalFraction: probability
      .default(0)
      .describe('fraction of steps that replay text-only base-stage examples (tiny model only, trained or loaded base: keeps its planning)'),
    lora: LoraSchema.prefault({}),
  })
  .strict()
  .describe('cold-start perception SFT on images');

const ClipSchema = z
  .object({
    low: z.number().min(0).max(1).default(0.2).describe('ratio clip below 1 (1 − low)'),
    high: z.number().min(0).default(0.3).describe('ratio clip above 1 (1 + high)'),
    dual: z.number().min(1).default(3.0).describe('dual-clip bound for negative advantages'),
  })
  .strict()
  .describe('PPO-style ratio clipping');

const OpsdStageSchema = z
  .object({
    enabled: z.boolean().default(true).describe('on-policy self-distillation'),
    steps: steps.default(200).describe('optimizer steps'),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3).describe(LR),
    schedule: schedule.default('constant').describe('learning-rate schedule after warm-up'),
    batchSize: OptimSchema.batchSize.default(32).describe(BATCH),
    rollout: SamplingSchema.prefault({}).describe('student sampling of the on-policy responses'),
    estimator: z
      .enum(ESTIMATORS)
      .default('sampled')
      .describe('reverse KL (`sampled` official, `topk`, `full` exact) or the exact forward KL (`forward`)'),
    topk: positiveInt.max(4096).default(16).describe('teacher tokens kept per position by the `topk` estimator'),
    clip: ClipSchema.prefault({}),
    teacher: z
      .object({
        seesReferencePlan: z.boolean().default(true).describe('the teacher sees the reference plan in its context (official default)'),
        kind: z
          .enum(['frozen-base', 'live-student'])
          .default('frozen-base')
          .describe('`frozen-base`: the base model (official); `live-student`: the current student'),
      })
      .strict()
      .prefault({})
      .describe('the teacher that reads the symbolic state'),
    // Moved to eval.validation.every (one cadence for every trained model); kept only to say so.
    validateEvery: positiveInt.optional().describe('moved: use `eval.validation.every` (one validation cadence for every trained model)'),
    checkpointEvery: positiveInt.max(MAX_STEPS).default(50).describe('steps between checkpoints'),
    overlap: z
      .boolean()
      .default(true)
      .describe('sample step k+1 while the teacher worker scores step k (one update stale; the PPO ratio corrects it)'),
  })
  .strict()
  .describe('on-policy self-distillation from the teacher');

const VisualSftBaselineSchema = z
  .object({
    enabled: z.boolean().default(true).describe('train the visual-SFT baseline'),
    target: z
      .enum(['answer', 'full'])
      .default('answer')
      .describe('`answer`: ground-truth answers only (the official direct-SFT format); `full`: full ground-truth responses, read-out and plan (a chain-of-thought SFT baseline)'),
    steps: steps
      .nullable()
      .default(null)
      .describe('optimizer steps; null = enough to see at least as many training samples as OPSD (ceil(opsd.steps × opsd.batchSize / batchSize))'),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3).describe(LR),
    batchSize: OptimSchema.batchSize.default(32).describe(BATCH),
  })
  .strict()
  .describe('SFT on ground-truth responses from images, from the cold-start checkpoint');

const GrpoBaselineSchema = z
  .object({
    enabled: z.boolean().default(false).describe('train the GRPO baseline'),
    steps: steps
      .nullable()
      .default(null)
      .describe('optimizer steps; null = enough to see at least as many training samples as OPSD (ceil(opsd.steps × opsd.batchSize / batchSize))'),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3).describe(LR),
    schedule: schedule.default('constant').describe('learning-rate schedule after warm-up'),
    batchSize: OptimSchema.batchSize.default(32).describe(BATCH),
    groupSize: positiveInt.min(2).max(256).default(4).describe('responses sampled per prompt (advantages are relative within a group)'),
    rollout: SamplingSchema.prefault({}).describe('sampling of the group responses'),
    clip: ClipSchema.prefault({}),
  })
  .strict()
  .describe("RL on the simulator's success reward, from the cold-start checkpoint");

const ConfigObject = z
  .object({
    name: z.string().min(1).default('experiment').describe('run name (default run directory `runs/<name>-seed<seed>`)'),
    seed: seedSchema.default(0).describe('the one seed: datasets, batches, sampling and initialisation all derive from it'),
    profile: z.enum(['paper', 'compact']).default('paper').describe('prompt profile: `paper` (official structure, Qwen3-VL) or `compact` (tiny model)'),
    tasks: TasksSchema,
    data: DataSchema.prefault({}),
    parser: ParserSchema.prefault({}),
    model: ModelSchema.prefault({}),
    backend: BackendSchema.prefault({}),
    stages: z
      .object({
        base: BaseStageSchema.prefault({}),
        sft: SftStageSchema.prefault({}),
        opsd: OpsdStageSchema.prefault({}),
      })
      .strict()
      .prefault({})
      .describe('the training pipeline, in order'),
    baselines: z
      .object({
        visualSft: VisualSftBaselineSchema.prefault({}),
        grpo: GrpoBaselineSchema.prefault({}),
      })
      .strict()
      .prefault({})
      .describe('the comparison models'),
    eval: EvalSchema.prefault({}),
    reportTo: z
      .array(z.enum(['tensorboard', 'wandb', 'mlflow']))
      .default([])
      .describe('Trackers that mirror the metrics logs through their own libraries, offline by default (`--report-to tensorboard,wandb,mlflow`; `pip install -r requirements-trackers.txt`). TensorBoard event files go to <run>/tensorboard/.'),
    reuse: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe('Reuse a finished stage or evaluation from the stage cache when everything it depends on is unchanged (`--no-reuse` sets false: recompute every stage).'),
        cacheDir: z
          .string()
          .default('runs/.stages')
          .describe('Where finished stages and evaluations are cached, one folder per key (config keys read, inputs, code version).'),
      })
      .strict()
      .prefault({})
      .describe('Stage reuse across runs (docs/experiments.md).'),
  })
  .strict();

/** The whole experiment configuration (a preset, then `--set` overrides). */
export const ExperimentConfigSchema = ConfigObject.superRefine((config, ctx) => {
  if (config.model.kind === 'hf' && config.model.path === null) {
    ctx.addIssue({
      code: 'custom',
      path: ['model', 'path'],
      message: 'model.kind "hf" needs model.path (a hub id such as Qwen/Qwen3-VL-4B-Instruct or a local directory)',
    });
  }
  if (config.model.kind === 'hf' && config.stages.base.enabled) {
    ctx.addIssue({
      code: 'custom',
      path: ['stages', 'base', 'enabled'],
      message: 'the text-only base stage exists only for the tiny model; a pretrained hf model is its own base. Set it to false',
    });
  }
  if (config.stages.sft.rehearsalFraction > 0 && config.model.kind !== 'tiny') {
    ctx.addIssue({
      code: 'custom',
      path: ['stages', 'sft', 'rehearsalFraction'],
      message: 'rehearsal replays text-only base-stage examples for the tiny model; it needs model.kind "tiny" (an hf model keeps its planning through LoRA)',
    });
  }
  if (config.model.kind === 'tiny' && config.stages.sft.lora.enabled) {
    ctx.addIssue({
      code: 'custom',
      path: ['stages', 'sft', 'lora', 'enabled'],
      message: 'LoRA is only available for hf models; the tiny model trains all its weights',
    });
  }
  const { rendezvous } = config.backend;
  if (rendezvous.nodes > 1) {
    const problems: Array<[string[], string]> = [
      ...(config.backend.separateTeacherWorker ? [[['backend', 'separateTeacherWorker'], 'a multi-node group is the one `main` worker: set it to false'] as [string[], string]] : []),
      ...(config.backend.ranks === 'auto' ? [[['backend', 'ranks'], 'every node must start the same number of ranks: give a number'] as [string[], string]] : []),
      ...(rendezvous.port === null ? [[['backend', 'rendezvous', 'port'], 'the other nodes must know the port: give one'] as [string[], string]] : []),
    ];
    for (const [path, message] of problems) ctx.addIssue({ code: 'custom', path, message: `backend.rendezvous.nodes is ${rendezvous.nodes}: ${message}` });
  }
  if (config.stages.opsd.validateEvery !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['stages', 'opsd', 'validateEvery'],
      message: `moved: set eval.validation.every=${config.stages.opsd.validateEvery} instead (one validation cadence for every trained model)`,
    });
  }
  config.eval.outOfDistribution.forEach((set, index) => {
    const name = benchmarkNameOf(set.file);
    const path = ['eval', 'outOfDistribution', index];
    if (config.eval.outOfDistribution.some((other, j) => j < index && benchmarkNameOf(other.file) === name)) {
      ctx.addIssue({ code: 'custom', path: [...path, 'file'], message: `two sets named "${name}" (a set is named by its file name): list each file once, with all its levels` });
    }
    const tooLarge = set.levels.filter((level) => config.data.renderStyle === 'compact' && level * COMPACT_CELL_PX > config.data.imageSizePx);
    if (tooLarge.length > 0) {
      const message = `level(s) ${tooLarge.join(', ')} do not fit ${config.data.imageSizePx}-px compact images (${COMPACT_CELL_PX} px per cell): keep levels ≤ ${Math.floor(config.data.imageSizePx / COMPACT_CELL_PX)} or raise data.imageSizePx`;
      ctx.addIssue({ code: 'custom', path: [...path, 'levels'], message });
    }
  });
  if (config.data.renderStyle === 'compact' && config.data.imageSizePx % config.model.tiny.patchPx !== 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['data', 'imageSizePx'],
      message: `imageSizePx (${config.data.imageSizePx}) must be a multiple of model.tiny.patchPx (${config.model.tiny.patchPx})`,
    });
  }
});

export type ExperimentConfig = z.infer<typeof ExperimentConfigSchema>;
export type TaskConfig = z.infer<typeof TaskSchema>;
