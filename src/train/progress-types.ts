/** Key metrics shown on a stage's progress line, e.g. `{ loss: 0.41, kl: 0.02 }`. */
export type ProgressMetrics = Record<string, number | string>;
