/**
 * Decodes PNG bytes back into an RGB raster (tests, golden-file checks and reports).
 *
 * Uses pngjs, an independent decoder, so a test of `encodePng` is not graded by its own code.
 * Alpha, if present, is dropped.
 */
import pngjs from 'pngjs';

import type { Raster } from '../types.js';

/** The RGB pixels of a PNG image. */
export function decodePng(bytes: Uint8Array): Raster {
  const image = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const rgb = new Uint8Array(image.width * image.height * 3);
  for (let p = 0; p < image.width * image.height; p += 1) {
    rgb[3 * p] = image.data[4 * p]!;
    rgb[3 * p + 1] = image.data[4 * p + 1]!;
    rgb[3 * p + 2] = image.data[4 * p + 2]!;
  }
  return { width: image.width, height: image.height, rgb };
}
