/**
 * The names of the wire contract that everything else in it refers to: the ops a worker answers,
 * the distillation estimators, and the exit statuses of a group's ranks. Re-exported by `protocol.ts` (import them from there); kept
 * apart so `protocol-tensors.ts` can use them without importing the module that re-exports it.
 */

/** Every op a worker answers. `hello` is the worker's first message, never a request. */
export const OP = {
  ping: 'ping',
  echo: 'echo',
  stop: 'stop',
  setThreads: 'set_threads',
  load: 'load',
  generate: 'generate',
  score: 'score',
  sftStep: 'sft_step',
  distillStep: 'distill_step',
  pgStep: 'pg_step',
  save: 'save',
} as const;
/** A wire op name (`'sft_step'`, …). */
export type OpName = (typeof OP)[keyof typeof OP];
/** The `op` of a worker's first message. */
export const HELLO = 'hello';
/** Ops the Python server answers itself; every other op runs on the model worker. */
export const SERVER_OPS = [OP.ping, OP.echo, OP.stop, OP.setThreads] as const satisfies readonly OpName[];

/** Distillation estimators (`distill_step`'s `estimator`, the config's `opsd.estimator`). */
export const ESTIMATORS = ['sampled', 'topk', 'full', 'forward'] as const;
/** A distillation estimator. */
export type Estimator = (typeof ESTIMATORS)[number];

/**
 * Exit statuses by which a rank of a group tells the launcher why it left (written into the
 * contract, which the worker reads): a collective failed because another rank died or hung
 * (`peer_lost`), or another process already holds its rank at the rendezvous (`rank_taken`).
 */
export const RANK_EXIT_CODES = { peer_lost: 70, rank_taken: 71 } as const;
