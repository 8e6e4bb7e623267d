/**
 * Records → what a model sees: chat views (from the task's `prompts.ts`, the one source of every
 * prompt) and, for image views, the `images` tensor (uint8 `[B, H, W, 3]`).
 *
 * View kinds:
 * - `student`: the planning prompt with the image (the visual student; inference is always this);
 * - `text`: the same planning prompt with the symbolic state as text (symbolic upper bound);
 * - `teacher` / `teacher-no-plan`: the frozen teacher's text-only context, with or without the
 *   reference plan;
 * - `perception`: the perception questions with the image.
 */
import type { ChatView } from '../chat.js';
import { hasImage } from '../chat.js';
import { tensor, type Tensor } from '../backend/codec.js';
import type { DataRecord } from '../data/schema.js';
import { getEnv } from '../envs/index.js';
import type { Instance, PromptProfile, Raster, RenderStyle } from '../envs/types.js';

export const VIEW_KINDS = ['student', 'text', 'teacher', 'teacher-no-plan', 'perception'] as const;
export type ViewKind = (typeof VIEW_KINDS)[number];

/** How views and images are made for a run (`profile`, `data.renderStyle`, `data.imageSizePx`). */
export interface ViewOptions {
  profile: PromptProfile;
  renderStyle: RenderStyle;
  imageSizePx: number;
}

/** A batch ready for a backend request. */
export interface ViewBatch {
  views: ChatView[];
  /** Present exactly when the views carry the image. */
  images?: Tensor<'uint8'>;
}

/** Renders record images once and keeps them (compact images are ~5 KB; paper ones are not cached). */
export class ImageSource {
  private readonly cache = new Map<string, Raster>();
  constructor(private readonly options: ViewOptions, private readonly maxCached = 50_000) {}

  raster(record: DataRecord): Raster {
    const cached = this.cache.get(record.id);
    if (cached) return cached;
    const raster = getEnv(record.task).spec.render(record.instance as never, {
      style: this.options.renderStyle,
      sizePx: this.options.imageSizePx,
    });
    if (this.options.renderStyle === 'compact' && this.cache.size < this.maxCached) this.cache.set(record.id, raster);
    return raster;
  }
}

/** The chat view of one record. */
export function viewOf(record: DataRecord, kind: ViewKind, profile: PromptProfile): ChatView {
  const prompts = getEnv(record.task).prompts;
  const instance = record.instance as Instance as never;
  switch (kind) {
    case 'student':
      return prompts.studentView(instance, profile);
    case 'text':
      return prompts.textStudentView(instance, profile);
    case 'teacher':
      return prompts.teacherView(instance, profile, record.solution.plan);
    case 'teacher-no-plan':
      return prompts.teacherView(instance, profile, null);
    case 'perception':
      return prompts.perception(instance, profile).view;
  }
}

/** Views (and images when they need them) for a batch of records. */
export function buildViewBatch(records: readonly DataRecord[], kind: ViewKind, options: ViewOptions, images: ImageSource): ViewBatch {
  const views = records.map((record) => viewOf(record, kind, options.profile));
  return { views, ...imagesFor(records, views, images, options.imageSizePx) };
}

/** `{ images }` when the views show the image (all of them must, or none), else `{}`. */
export function imagesFor(
  records: readonly DataRecord[],
  views: readonly ChatView[],
  images: ImageSource,
  imageSizePx: number,
): { images?: Tensor<'uint8'> } {
  const withImage = views.filter(hasImage).length;
  if (withImage === 0) return {};
  if (withImage !== views.length) {
    throw new RangeError(`a batch mixes image and text-only views (${withImage} of ${views.length} with an image)`);
  }
  return { images: stackImages(records.map((record) => images.raster(record)), imageSizePx) };
}

/** Stacks equally sized rasters into a uint8 `[B, H, W, 3]` tensor. */
export function stackImages(rasters: readonly Raster[], sizePx: number): Tensor<'uint8'> {
  const rowBytes = sizePx * sizePx * 3;
  const data = new Uint8Array(rasters.length * rowBytes);
  rasters.forEach((raster, index) => {
    if (raster.width !== sizePx || raster.height !== sizePx) {
      throw new Error(`image ${index} is ${raster.width}x${raster.height}, expected ${sizePx}x${sizePx}`);
    }
    data.set(raster.rgb, index * rowBytes);
  });
  return tensor('uint8', [rasters.length, sizePx, sizePx, 3], data);
}
