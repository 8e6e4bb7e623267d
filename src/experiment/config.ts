/**
 * The experiment configuration: one zod schema, the only place defaults live.
 *
 * A preset in `configs/*.yaml` is parsed through `ExperimentConfigSchema`; the type comes from
 * `z.infer`. Cross-field rules are refinements, so a config that cannot work fails at load time,
 * before any process starts. Unknown keys are errors (`strict`), so a typo never silently falls
 * back to a default.
 */
import { z } from 'zod';

import { DEFAULT_HEARTBEAT_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS, WEDGED_FACTOR } from '../backend/heartbeat.js';
import { ENV_NAMES } from '../envs/types.js';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const probability = z.number().min(0).max(1);
const seedSchema = z.number().int().min(0).max(0xffffffff);

/** Sizes of one task's splits, per level. */
const SplitSizesSchema = z
  .object({
    train: nonNegativeInt.default(1000),
    val: nonNegativeInt.default(50),
    test: nonNegativeInt.default(100),
  })
  .strict();

const TaskSchema = z
  .object({
    enabled: z.boolean().default(true),
    levels: z.array(z.number().int().min(2).max(16)).nonempty(),
    /** Instances per level and split. */
    perLevel: SplitSizesSchema.prefault({}),
    /** Ask the generator for easy/medium/hard round-robin (official Maze/MiniBehaviour behaviour). */
    stratify: z.boolean().default(true),
    /** FrozenLake only: probability that a free cell is a hole (VSP ≈ 0.2; official MGSD 0.1). */
    holeProbability: probability.default(0.2),
    /** FrozenLake only: minimum optimal plan length (official generator 2, VSP test sets 1). */
    minPathLength: positiveInt.default(1),
  })
  .strict();

const TasksSchema = z
  .object({
    frozenlake: TaskSchema.optional(),
    maze: TaskSchema.optional(),
    minibehaviour: TaskSchema.optional(),
  })
  .strict()
  .refine((tasks) => ENV_NAMES.some((name) => tasks[name]?.enabled), {
    message: 'at least one task must be enabled',
  });

const DataSchema = z
  .object({
    seed: seedSchema
      .default(0)
      .describe('Seed of the generated instances and splits (the test puzzles); separate from `seed` (training), so runs that differ in training seed are scored on the same puzzles.'),
    /** Image style: `paper` (official look, 256 px) or `compact` (8 px per cell, tiny model). */
    renderStyle: z.enum(['paper', 'compact']).default('paper'),
    imageSizePx: positiveInt.default(256),
    /** Published test sets to import and evaluate on (see `mgsd data import`). */
    benchmarks: z
      .array(
        z
          .object({
            kind: z.enum(['vsp-frozenlake', 'vprl-frozenlake', 'vprl-minibehaviour']),
            file: z.string().min(1),
            /** Keep at most this many records per level (0 = all). */
            limitPerLevel: nonNegativeInt.default(0),
          })
          .strict(),
      )
      .default([]),
    /** Where built datasets are cached, keyed by a hash of the data config. */
    cacheDir: z.string().default('runs/.datasets'),
  })
  .strict();

const ParserSchema = z
  .object({
    block: z.enum(['first', 'last']).default('last'),
    requireTag: z.boolean().default(false),
    unknownTokens: z.enum(['fail', 'skip']).default('fail'),
    outOfBounds: z.enum(['fail', 'stay']).default('fail'),
  })
  .strict();

const TinyModelSchema = z
  .object({
    dModel: positiveInt.default(128),
    nLayers: positiveInt.default(4),
    nHeads: positiveInt.default(4),
    patchPx: positiveInt.default(8),
    maxSeqLen: positiveInt.default(256),
  })
  .strict()
  .refine((m) => m.dModel % m.nHeads === 0, { message: 'dModel must be divisible by nHeads' });

const LoraSchema = z
  .object({
    enabled: z.boolean().default(false),
    rank: positiveInt.default(8),
    alpha: z.number().positive().default(16),
    dropout: probability.default(0),
  })
  .strict();

const ModelSchema = z
  .object({
    kind: z.enum(['tiny', 'hf']).default('tiny'),
    /** hf: a hub id (e.g. Qwen/Qwen3-VL-4B-Instruct) or a local directory. */
    path: z.string().nullable().default(null),
    tiny: TinyModelSchema.prefault({}),
    dtype: z.enum(['float32', 'bfloat16']).default('float32'),
    device: z.enum(['cpu', 'cuda']).default('cpu'),
    gradientCheckpointing: z.boolean().default(false),
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
  .strict();

const BackendSchema = z
  .object({
    /** Python interpreter; null = the project's `.venv` (or $MGSD_PYTHON when set). */
    python: z.string().nullable().default(null),
    /** torch threads per worker; two single-thread workers beat one two-thread worker on 2 cores. */
    threadsPerWorker: positiveInt.default(1),
    /** Threads of a worker while it runs alone (the tiny base stage); null = every core. */
    soloThreads: positiveInt.nullable().default(null),
    /** Rank processes of each training worker (student, baselines): a number, or `auto` (one per core). */
    ranks: z
      .union([positiveInt, z.literal('auto')])
      .default(1)
      .describe(
        'Rank processes of each training worker (the student and the baselines): a number, or `auto` for one per CPU core. The ranks split every batch by rows and sum their gradients (docs/scale-out.md); results do not depend on it beyond float reduction order. The frozen teacher keeps one rank.',
      ),
    /** Run the frozen teacher in its own worker (overlaps with the student) or in the student's. */
    separateTeacherWorker: z.boolean().default(true),
    startTimeoutMs: positiveInt.default(120_000),
    requestTimeoutMs: positiveInt.default(600_000),
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
  .strict();

const OptimSchema = {
  lr: z.number().positive(),
  minLrRatio: probability.default(0.1),
  warmupSteps: nonNegativeInt.default(0),
  schedule: z.enum(['cosine', 'constant']).default('cosine'),
  weightDecay: z.number().min(0).default(0.01),
  gradClip: z.number().positive().default(1.0),
  batchSize: positiveInt,
};

/** Tiny model only: text-only symbolic pretraining, the stand-in for a base VLM's planning prior. */
const BaseStageSchema = z
  .object({
    enabled: z.boolean().default(true),
    steps: nonNegativeInt.default(600),
    ...OptimSchema,
    lr: OptimSchema.lr.default(3e-3),
    batchSize: OptimSchema.batchSize.default(64),
    warmupSteps: nonNegativeInt.default(30),
    /** Fraction of samples whose prompt is the teacher view (with the reference plan). */
    teacherViewFraction: probability.default(0.3),
  })
  .strict();

const SftStageSchema = z
  .object({
    enabled: z.boolean().default(true),
    steps: nonNegativeInt.default(300),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3),
    batchSize: OptimSchema.batchSize.default(64),
    /** What the cold start teaches: the state read-out of the planning response, or perception QA. */
    target: z.enum(['readout', 'perception-qa']).default('readout'),
    /** Fraction of steps that replay base-stage text examples (tiny model: keeps its planning). */
    rehearsalFraction: probability.default(0),
    lora: LoraSchema.prefault({}),
  })
  .strict();

const ClipSchema = z
  .object({
    low: z.number().min(0).default(0.2),
    high: z.number().min(0).default(0.3),
    dual: z.number().min(1).default(3.0),
  })
  .strict();

const SamplingSchema = z
  .object({
    temperature: z.number().min(0).default(1.0),
    topP: z.number().gt(0).max(1).default(1.0),
    maxNewTokens: positiveInt.default(64),
  })
  .strict();

const OpsdStageSchema = z
  .object({
    enabled: z.boolean().default(true),
    steps: nonNegativeInt.default(200),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3),
    schedule: z.enum(['cosine', 'constant']).default('constant'),
    batchSize: OptimSchema.batchSize.default(32),
    rollout: SamplingSchema.prefault({}),
    /** Reverse KL (`sampled` official, `topk`, `full` exact) or the exact forward KL (`forward`). */
    estimator: z.enum(['sampled', 'topk', 'full', 'forward']).default('sampled'),
    topk: positiveInt.default(16),
    clip: ClipSchema.prefault({}),
    teacher: z
      .object({
        /** The teacher sees the reference plan in its context (official default). */
        seesReferencePlan: z.boolean().default(true),
        /** `frozen-base`: the base model (official); `live-student`: the current student. */
        kind: z.enum(['frozen-base', 'live-student']).default('frozen-base'),
      })
      .strict()
      .prefault({}),
    validateEvery: positiveInt.default(50),
    checkpointEvery: positiveInt.default(50),
    /** Sample step k+1 while the teacher worker scores step k (one update stale; PPO ratio corrects). */
    overlap: z.boolean().default(true),
  })
  .strict();

const VisualSftBaselineSchema = z
  .object({
    enabled: z.boolean().default(true),
    /**
     * `answer`: ground-truth answers only (the official direct-SFT format); `full`: full
     * ground-truth responses, read-out and plan (a chain-of-thought SFT baseline).
     */
    target: z.enum(['answer', 'full']).default('answer'),
    /** null = as many steps as OPSD. */
    steps: nonNegativeInt.nullable().default(null),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3),
    batchSize: OptimSchema.batchSize.default(32),
  })
  .strict();

const GrpoBaselineSchema = z
  .object({
    enabled: z.boolean().default(false),
    steps: nonNegativeInt.nullable().default(null),
    ...OptimSchema,
    lr: OptimSchema.lr.default(1e-3),
    schedule: z.enum(['cosine', 'constant']).default('constant'),
    batchSize: OptimSchema.batchSize.default(32),
    groupSize: positiveInt.default(4),
    rollout: SamplingSchema.prefault({}),
    clip: ClipSchema.prefault({}),
  })
  .strict();

const EvalSchema = z
  .object({
    maxNewTokens: positiveInt.default(64),
    /** Greedy decoding (0) as the official benchmark. */
    temperature: z.number().min(0).default(0),
    batchSize: positiveInt.default(128),
    perception: z.boolean().default(true),
    modalityGap: z.boolean().default(true),
    /** Validation decoding during OPSD (official: T 0.6, top-p 0.95). */
    // Defaults on the keys themselves (not a section prefault), so `--set eval.validation.maxNewTokens=…`
    // keeps the official temperature and top-p instead of falling back to the sampling defaults.
    validation: SamplingSchema.extend({ temperature: z.number().min(0).default(0.6), topP: z.number().gt(0).max(1).default(0.95) }).prefault({}),
  })
  .strict();

export const ExperimentConfigSchema = z
  .object({
    name: z.string().min(1).default('experiment'),
    seed: seedSchema.default(0),
    /** Prompt profile: `paper` (official structure, Qwen3-VL) or `compact` (tiny model). */
    profile: z.enum(['paper', 'compact']).default('paper'),
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
      .prefault({}),
    baselines: z
      .object({
        visualSft: VisualSftBaselineSchema.prefault({}),
        grpo: GrpoBaselineSchema.prefault({}),
      })
      .strict()
      .prefault({}),
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
  .strict()
  .superRefine((config, ctx) => {
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
    if (config.stages.sft.rehearsalFraction > 0 && !(config.model.kind === 'tiny' && config.stages.base.enabled)) {
      ctx.addIssue({
        code: 'custom',
        path: ['stages', 'sft', 'rehearsalFraction'],
        message: 'rehearsal replays the tiny base stage; it needs model.kind "tiny" with stages.base.enabled',
      });
    }
    if (config.model.kind === 'tiny' && config.stages.sft.lora.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['stages', 'sft', 'lora', 'enabled'],
        message: 'LoRA is only available for hf models; the tiny model trains all its weights',
      });
    }
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
