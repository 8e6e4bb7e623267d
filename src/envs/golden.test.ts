/**
 * Golden files (reviewed like code; regenerate with `UPDATE_GOLDEN=1 npx vitest run src/envs/golden.test.ts`):
 * - fixtures/golden/render/*.png: a few instances per task and style, compared pixel for pixel after
 *   decoding; `hashes.json` pins the SHA-256 of each image's raw RGB pixels.
 * - fixtures/golden/prompts/<env>-<profile>-<view>.txt: every view of one instance, so a prompt
 *   change shows up in review.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import type { ChatView } from '../chat.js';
import { decodePng, encodePng, getEnv } from './index.js';
import type { EnvName, PromptProfile, Raster, RenderStyle } from './types.js';
import { ENV_NAMES } from './types.js';

const ROOT = fileURLToPath(new URL('../../fixtures/golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const RENDER_CASES: Record<EnvName, { level: number; seeds: number[] }> = {
  frozenlake: { level: 4, seeds: [1, 2] },
  maze: { level: 4, seeds: [1, 2] },
  minibehaviour: { level: 5, seeds: [1, 2] },
};
const SIZES: Record<RenderStyle, number> = { paper: 256, compact: 40 };

function pixelHash(raster: Raster): string {
  return createHash('sha256').update(raster.rgb).digest('hex');
}

function readOrWrite(path: string, produce: () => Buffer | string): Buffer {
  if (UPDATE || !existsSync(path)) {
    if (!UPDATE) throw new Error(`golden file ${path} is missing; run UPDATE_GOLDEN=1 npx vitest run src/envs/golden.test.ts`);
    writeFileSync(path, produce());
  }
  return readFileSync(path);
}

describe('golden renders', () => {
  const hashPath = `${ROOT}render/hashes.json`;
  mkdirSync(`${ROOT}render`, { recursive: true });
  const hashes: Record<string, string> = UPDATE || !existsSync(hashPath) ? {} : (JSON.parse(readFileSync(hashPath, 'utf8')) as Record<string, string>);
  const cases = ENV_NAMES.flatMap((name) =>
    (['paper', 'compact'] as const).flatMap((style) => RENDER_CASES[name].seeds.map((seed) => ({ name, style, seed }))),
  );

  it.each(cases)('$name $style seed $seed matches its golden PNG', ({ name, style, seed }) => {
    const { spec } = getEnv(name);
    const instance = spec.generate(RENDER_CASES[name].level, seed, { bucket: null });
    const path = seed === 2 ? spec.simulate(instance, spec.solve(instance).plan).trajectory : undefined;
    const raster = spec.render(instance, { style, sizePx: SIZES[style], path });
    const png = encodePng(raster);
    const file = `${name}-${style}-L${RENDER_CASES[name].level}-s${seed}${path ? '-path' : ''}.png`;
    const golden = decodePng(readOrWrite(`${ROOT}render/${file}`, () => Buffer.from(png)));
    // The renderer against the reviewed golden pixels, then the encoder's bytes decoded by an
    // independent decoder (pngjs) against the same pixels.
    expect([golden.width, golden.height]).toEqual([raster.width, raster.height]);
    expect(Buffer.from(golden.rgb).equals(Buffer.from(raster.rgb))).toBe(true);
    expect(Buffer.from(decodePng(png).rgb).equals(Buffer.from(golden.rgb))).toBe(true);
    if (UPDATE) hashes[file] = pixelHash(raster);
    expect(hashes[file]).toBe(pixelHash(raster));
  });

  it('writes the hash table when updating', () => {
    if (UPDATE) writeFileSync(hashPath, `${JSON.stringify(hashes, Object.keys(hashes).sort(), 2)}\n`);
    expect(Object.keys(JSON.parse(readFileSync(hashPath, 'utf8')) as object)).toHaveLength(cases.length);
  });
});

function showView(view: ChatView): string {
  return view
    .map((message) => `=== ${message.role} ===\n${message.content.map((part) => (part.type === 'text' ? part.text : '<image>')).join('\n')}`)
    .join('\n');
}

describe('golden prompts', () => {
  mkdirSync(`${ROOT}prompts`, { recursive: true });
  const cases = ENV_NAMES.flatMap((name) => (['paper', 'compact'] as const).map((profile) => ({ name, profile })));

  it.each(cases)('$name $profile views match their golden texts', ({ name, profile }: { name: EnvName; profile: PromptProfile }) => {
    const { spec, prompts } = getEnv(name);
    const instance = spec.generate(name === 'minibehaviour' ? 5 : 3, 7, { bucket: null });
    const { plan } = spec.solve(instance);
    const perception = prompts.perception(instance, profile);
    const views: Record<string, string> = {
      student: showView(prompts.studentView(instance, profile)),
      'text-student': showView(prompts.textStudentView(instance, profile)),
      teacher: showView(prompts.teacherView(instance, profile, plan)),
      'teacher-no-plan': showView(prompts.teacherView(instance, profile, null)),
      perception: `${showView(perception.view)}\n=== assistant (answer) ===\n${perception.answer}`,
      target: `=== assistant (target response) ===\n${prompts.targetResponse(instance, profile, plan)}`,
    };
    for (const [view, text] of Object.entries(views)) {
      const golden = readOrWrite(`${ROOT}prompts/${name}-${profile}-${view}.txt`, () => `${text}\n`).toString('utf8');
      expect(`${text}\n`).toBe(golden);
      if (profile === 'compact') expect(/^[\x20-\x7e\n]*$/.test(text.replace(/^=== .*$/gm, ''))).toBe(true);
    }
  });
});
