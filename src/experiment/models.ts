/**
 * From the config to the backend: which worker processes to start, which model spec each role
 * loads, and the `load` requests of the pipeline's roles.
 *
 * Placement: with `backend.separateTeacherWorker` (the tiny default) the student, the frozen
 * teacher and the baselines each get a single-thread process, so their work overlaps on a 2-core
 * machine; otherwise (one GPU) every role lives in one `main` worker and the teacher is scored
 * in-process.
 *
 * Rank groups: the student and the baseline workers run `backend.ranks` rank processes each (rows
 * split across them, docs/scale-out.md), so a stage that trains or evaluates alone keeps every core
 * (or GPU) busy; the frozen teacher, which only scores beside the student, keeps one rank.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

import type { ArgsOf } from '../backend/protocol.js';
import { ConfigError } from '../errors.js';
import type { ExperimentConfig } from './config.js';

/** Which worker serves each role. */
export interface Placement {
  workers: Record<string, { threads: number; ranks: number }>;
  student: string;
  teacher: string;
  baseline: string;
  /** True when the teacher runs in a worker of its own (scores travel over the wire). */
  isTeacherSeparate: boolean;
}

/** Which worker serves each role, and how many ranks and threads each worker has. */
export function placementOf(config: ExperimentConfig): Placement {
  const threads = config.backend.threadsPerWorker;
  const ranks = ranksOf(config);
  if (config.backend.separateTeacherWorker) {
    const workers: Placement['workers'] = { student: { threads, ranks }, teacher: { threads, ranks: 1 } };
    const hasBaseline = config.baselines.visualSft.enabled || config.baselines.grpo.enabled;
    if (hasBaseline) workers.baseline = { threads, ranks };
    return { workers, student: 'student', teacher: 'teacher', baseline: hasBaseline ? 'baseline' : 'student', isTeacherSeparate: true };
  }
  return { workers: { main: { threads, ranks } }, student: 'main', teacher: 'main', baseline: 'main', isTeacherSeparate: false };
}

/** `backend.ranks` as a number (`auto`: one rank per CPU core, or per visible GPU when the model runs on CUDA). */
export function ranksOf(config: ExperimentConfig, env: NodeJS.ProcessEnv = process.env): number {
  const { ranks } = config.backend;
  if (ranks !== 'auto') return ranks;
  return config.model.device.startsWith('cuda') ? visibleGpuCount(env) : availableParallelism();
}

/** GPUs `nvidia-smi -L` lists, asked once per process (placement, preflight and stages all ask). */
let smiGpus: number | undefined;

function listedGpus(): number {
  try {
    return execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((line) => line.startsWith('GPU ')).length;
  } catch {
    return 0; // no driver tools on this machine
  }
}

/** GPUs this process may use: `CUDA_VISIBLE_DEVICES` when set, else the lines of `nvidia-smi -L`. */
function visibleGpuCount(env: NodeJS.ProcessEnv): number {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    const count = visible.split(',').filter((id) => id.trim() !== '' && id.trim() !== '-1').length;
    if (count > 0) return count;
    throw new ConfigError('ranks_no_gpu', `backend.ranks is auto and model.device is ${JSON.stringify('cuda')}, but CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)} hides every GPU`, {
      hint: 'Unset CUDA_VISIBLE_DEVICES or list the GPUs to use, or set backend.ranks to a number.',
    });
  }
  smiGpus ??= listedGpus();
  if (smiGpus > 0) return smiGpus;
  throw new ConfigError('ranks_no_gpu', 'backend.ranks is auto and model.device is cuda, but no GPU was found (nvidia-smi -L lists none)', {
    hint: 'Set backend.ranks to the number of GPUs to use, or CUDA_VISIBLE_DEVICES.',
  });
}

type LoadArgs = Extract<ArgsOf<'load'>, { model: unknown }>;
type ModelSpec = LoadArgs['model'];

/** The model spec of the configured model; `withLora` only for the hf cold-start SFT. */
export function modelSpecOf(config: ExperimentConfig, withLora = false): ModelSpec {
  const { model } = config;
  if (model.kind === 'tiny') {
    const t = model.tiny;
    return {
      kind: 'tiny',
      config: { d_model: t.dModel, n_layers: t.nLayers, n_heads: t.nHeads, patch_px: t.patchPx, max_seq_len: t.maxSeqLen, image_size_px: config.data.imageSizePx },
      // A base stage trains its own base from scratch; without one, model.path (a pretrained base) is the base.
      path: config.stages.base.enabled ? null : model.path,
    };
  }
  const lora = config.stages.sft.lora;
  return {
    kind: 'hf',
    path: model.path!,
    lora: withLora && lora.enabled ? { rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout } : null,
    gradient_checkpointing: model.gradientCheckpointing,
    master_weights: model.masterWeights,
    cpu_offload: model.teacherCpuOffload,
  };
}

/**
 * A `load` request for `role` from `checkpoint` (null = the configured model's own weights). The
 * optimizer state of a checkpoint is restored only with `restoreOptimizer` (a stage resuming its own
 * checkpoint); a stage that starts from the previous stage's weights gets a fresh optimizer.
 */
export function loadRequest(
  config: ExperimentConfig,
  role: string,
  checkpoint: string | null,
  training: { weightDecay: number } | null,
  options: { withLora?: boolean; seed?: number; restoreOptimizer?: boolean } = {},
): LoadArgs {
  return {
    role,
    model: modelSpecOf(config, options.withLora ?? false),
    checkpoint,
    trainable: training !== null,
    optimizer: training === null ? null : { betas: [0.9, 0.999], weight_decay: training.weightDecay, eps: 1e-8 },
    device: config.model.device,
    dtype: config.model.dtype,
    seed: options.seed ?? config.seed,
    restore_optimizer: options.restoreOptimizer ?? false,
  };
}
