/**
 * How the comparison pages (`write.ts`) and the generated doc tables (`doc-tables.ts`) write their
 * numbers: success rates as percentages with one decimal, signed differences, p-values.
 */
import type { ComparisonRow } from './table.js';

/** `mean ± sd` over seeds, in percent (one seed has no spread to report: `–`). */
export function meanSd(row: ComparisonRow): string {
  return `${pct(row.mean)} ± ${row.seeds.length < 2 ? '–' : pct(row.sd)}`;
}

/** A rate in [0, 1] as a percentage with one decimal. */
export function pct(value: number): string {
  return (value * 100).toFixed(1);
}

/** A difference of rates in percentage points, with its sign. */
export function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}`;
}

/** Differences of rates as a signed `mean ± sd` in points (sample sd; one value has none: `–`). */
export function signedMeanSd(values: readonly number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1));
  return `${signed(mean)} ± ${sd === null ? '–' : (sd * 100).toFixed(1)}`;
}

/** A p-value with three decimals, or `<0.001`. */
export function formatP(p: number): string {
  return p < 0.001 ? '<0.001' : p.toFixed(3);
}
