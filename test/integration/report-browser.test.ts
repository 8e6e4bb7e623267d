/**
 * The run report and the comparison page in a real browser (headless Chromium, Debian's `chromium`):
 * a miniature run and its comparison are rendered; every image must load and no element may stick
 * out of the page. Screenshots are kept (MGSD_SCREENSHOT_DIR, default the test's temp folder) so a
 * person can look at them.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'mgsd.js');
const WORK = mkdtempSync(join(tmpdir(), 'mgsd-browser-'));
const SHOTS = process.env.MGSD_SCREENSHOT_DIR ?? join(WORK, 'screenshots');
const CHROMIUM = ['chromium', 'chromium-browser'].find((name) => spawnSync('which', [name]).status === 0);

/** Runs in the page after load: broken images and elements wider than the page, as JSON in #mgsd-check. */
const CHECK = `<script>
window.addEventListener('load', () => {
  const width = document.documentElement.clientWidth;
  const broken = [...document.images].filter((img) => !img.complete || img.naturalWidth === 0).map((img) => img.alt || img.src.slice(0, 60));
  const inScroller = (el) => el.closest('.wrap') !== null && !el.classList.contains('wrap');
  const overflowing = [...document.body.querySelectorAll('*')]
    .filter((el) => !inScroller(el) && el.getBoundingClientRect().right > width + 1)
    .map((el) => el.tagName + ' ' + (el.textContent || '').trim().slice(0, 50));
  const out = document.createElement('pre');
  out.id = 'mgsd-check';
  out.textContent = JSON.stringify({ images: document.images.length, svgs: document.querySelectorAll('svg').length, broken, overflowing, pageScrollWidth: document.documentElement.scrollWidth, width });
  document.body.appendChild(out);
});
</script>`;

function mgsd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

/** Loads `html` (a copy with the check script) in headless Chromium; returns the check and saves a screenshot. */
function inspect(html: string, name: string): { images: number; svgs: number; broken: string[]; overflowing: string[]; pageScrollWidth: number; width: number } {
  const page = join(WORK, `${name}.checked.html`);
  writeFileSync(page, readFileSync(html, 'utf8').replace('</body>', `${CHECK}</body>`));
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1280,2400', '--virtual-time-budget=10000'];
  const dom = execFileSync(CHROMIUM!, [...flags, '--dump-dom', `file://${page}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
  mkdirSync(SHOTS, { recursive: true });
  execFileSync(CHROMIUM!, [...flags, `--screenshot=${join(SHOTS, `${name}.png`)}`, `file://${page}`], { stdio: 'ignore', timeout: 60_000 });
  const match = /<pre id="mgsd-check">([^<]*)<\/pre>/.exec(dom);
  if (match === null) throw new Error(`the check script did not run in ${page}`);
  return JSON.parse(match[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
}

describe.skipIf(CHROMIUM === undefined)('report.html and compare.html in headless Chromium', () => {
  it('load every image and overflow nothing', async () => {
    const run = join(WORK, 'run');
    const sets = [
      'tasks.frozenlake.levels=[3]',
      ...['frozenlake', 'maze', 'minibehaviour'].map((task) => `tasks.${task}.perLevel={train: 32, val: 4, test: 8}`),
      'model.tiny={dModel: 32, nLayers: 1, nHeads: 2, maxSeqLen: 160}',
      'model.path=null', // a base of this shape is trained, not the shipped one loaded
      'stages.base={enabled: true, steps: 4, batchSize: 8}',
      'stages.sft={steps: 2, batchSize: 8}',
      'stages.opsd={steps: 4, batchSize: 8, rollout: {maxNewTokens: 40}}',
      'baselines.visualSft={steps: 2, batchSize: 8}',
      'eval.maxNewTokens=40',
      'eval.validation.maxNewTokens=40',
      'eval.validation.every=2',
      'eval.outOfDistribution=[]',
      `data.cacheDir=${join(WORK, 'datasets')}`,
      `reuse.cacheDir=${join(WORK, 'stages')}`,
    ].flatMap((set) => ['--set', set]);
    const withTensorBoard = spawnSync(join(ROOT, '.venv', 'bin', 'python'), ['-c', 'import tensorboard']).status === 0;
    const exit = await mgsd(['run', '--out', run, ...sets, ...(withTensorBoard ? ['--report-to', 'tensorboard'] : [])]);
    expect(exit.code, exit.stderr).toBe(0);
    // The run's metrics were mirrored through the tracker sink into TensorBoard event files.
    if (withTensorBoard) expect(readdirSync(join(run, 'tensorboard')).some((file) => file.startsWith('events.out.tfevents'))).toBe(true);
    const compared = await mgsd(['compare', run, '--out', join(WORK, 'compare')]);
    expect(compared.code, compared.stderr).toBe(0);

    const report = inspect(join(run, 'report.html'), 'report');
    expect(report.broken).toEqual([]);
    expect(report.overflowing).toEqual([]);
    expect(report.pageScrollWidth).toBeLessThanOrEqual(report.width);
    expect(report.images).toBeGreaterThanOrEqual(4); // the gallery: ground truth + predictions
    expect(report.svgs).toBeGreaterThanOrEqual(3); // the diagnosis and the curves

    const comparison = inspect(join(WORK, 'compare', 'compare.html'), 'compare');
    expect(comparison.broken).toEqual([]);
    expect(comparison.overflowing).toEqual([]);
    expect(comparison.pageScrollWidth).toBeLessThanOrEqual(comparison.width);
    copyFileSync(join(run, 'report.html'), join(SHOTS, 'report.html'));
  }, 240_000);
});
