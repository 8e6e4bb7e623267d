/**
 * The shipped tiny base (models/tiny-base) is what `configs/tiny-base.yaml` says: its files match
 * the sha256 in its card, the card's recipe hash is the hash of the recipe as it resolves now (a
 * changed recipe needs a rebuilt base: `npx mgsd pretrain --out models/tiny-base --force`), and its
 * shape is the tiny preset's model. Skipped, saying so, while no base is shipped; the same checks
 * run on a freshly pretrained base in test/integration/pretrain.test.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { PACKAGE_ROOT } from '../data/benchmarks.js';
import { CARD_FILE, readBaseCard, recipeHash, verifyBaseDir } from './base-card.js';
import { loadConfig } from './load.js';

const SHIPPED = join(PACKAGE_ROOT, 'models', 'tiny-base');
const isShipped = existsSync(join(SHIPPED, CARD_FILE));

describe.skipIf(!isShipped)(`the shipped base ${SHIPPED}${isShipped ? '' : ' (not shipped yet: skipped)'}`, () => {
  it('has every file the card lists, with its sha256, and nothing else', () => {
    // verifyBaseDir also checks the shape against the preset given; the recipe's is the base's own.
    expect(() => verifyBaseDir(SHIPPED, loadConfig('tiny-base').config, 'models/tiny-base')).not.toThrow();
  });

  it('was built from configs/tiny-base.yaml as it resolves now', () => {
    const card = readBaseCard(SHIPPED);
    expect(card.recipe.overrides).toEqual([]);
    expect(card.recipe.sha256).toBe(recipeHash(loadConfig('tiny-base').config));
  });

  it('has the model shape of configs/tiny.yaml', () => {
    const card = readBaseCard(SHIPPED);
    const preset = loadConfig('tiny').config;
    expect(card.model).toEqual({ kind: 'tiny', tiny: preset.model.tiny, imageSizePx: preset.data.imageSizePx });
  });
});
