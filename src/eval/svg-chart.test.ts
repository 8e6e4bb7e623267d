/** The line chart's legend goes where it hides the least of the lines. */
import { describe, expect, it } from 'vitest';

import { lineChartSvg, type Series } from './svg-chart.js';

const OPTIONS = { title: 't', xLabel: 'x', yLabel: 'y', yRange: [0, 1] as [number, number] };

/** The legend box's top-left corner, from its backdrop rect. */
function legendAt(svg: string): { x: number; y: number } {
  const match = /<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="[\d.]+" fill="white" fill-opacity/.exec(svg);
  if (!match) throw new Error(`no legend backdrop in ${svg}`);
  return { x: Number(match[1]), y: Number(match[2]) };
}

describe('lineChartSvg legend', () => {
  it('stays top-left when the lines run low', () => {
    const low: Series[] = [{ name: 'a', points: [[0, 0.1], [1, 0.2]] }];
    expect(legendAt(lineChartSvg(low, OPTIONS))).toEqual({ x: 60, y: 32 });
  });

  it('moves to the top-right when a line falls from the top-left', () => {
    const falling: Series[] = [{ name: 'falling', points: [[0, 1], [0.5, 0.5], [1, 0]] }];
    const { x, y } = legendAt(lineChartSvg(falling, OPTIONS));
    expect(x).toBeGreaterThan(280);
    expect(y).toBe(32);
  });

  it('takes the bottom-left when the lines hold the three other corners', () => {
    const crossing: Series[] = [
      { name: 'falling', points: [[0, 1], [0.5, 0.5], [1, 0]] },
      { name: 'rising late', points: [[0, 0.5], [1, 0.95]] },
    ];
    const { x, y } = legendAt(lineChartSvg(crossing, OPTIONS));
    expect(x).toBe(60);
    expect(y).toBeGreaterThan(150);
  });

  it('is deterministic', () => {
    const series: Series[] = [{ name: 'a', points: [[0, 0.9], [1, 0.1]] }];
    expect(lineChartSvg(series, OPTIONS)).toBe(lineChartSvg(series, OPTIONS));
  });
});
