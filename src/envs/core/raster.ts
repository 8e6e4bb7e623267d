/**
 * RGB rasters, integer drawing primitives and a deterministic PNG encoder.
 *
 * Every renderer draws with these primitives only: integer geometry, pixel-centre sampling, no
 * antialiasing and no fonts, so equal input gives byte-identical pixels on every machine. Shapes
 * take their geometry in *doubled* pixel units (a pixel's centre is at `2x+1`), which keeps
 * half-pixel centres exact in integers.
 *
 * `encodePng` writes an 8-bit palette PNG when the image has at most 256 colours (always true for
 * our flat-colour renders; smaller and faster) and an 8-bit RGB PNG otherwise. Palette order is the
 * order of first appearance in raster scan, a palette row that repeats the one above uses filter 2
 * (Up, all zeros) and every other row filter 0, and the stream is compressed with node:zlib (level 6, run-length strategy: flat renders are long
 * runs, and RLE is several times faster than the default), so the bytes depend only on the pixels
 * and on zlib's version.
 */
import { constants, deflateSync } from 'node:zlib';

import type { Raster } from '../types.js';

/** An RGB colour, each channel 0–255. */
export type Rgb = readonly [number, number, number];

/** A new `width`×`height` raster filled with `colour`. */
export function createRaster(width: number, height: number, colour: Rgb): Raster {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`createRaster: expected positive integer sizes, got ${width}×${height}`);
  }
  const rgb = new Uint8Array(width * height * 3);
  if (colour[0] !== 0 || colour[1] !== 0 || colour[2] !== 0) {
    rgb[0] = colour[0];
    rgb[1] = colour[1];
    rgb[2] = colour[2];
    // Double the filled prefix until the buffer is full (log₂ native copies).
    for (let filled = 3; filled < rgb.length; filled *= 2) rgb.copyWithin(filled, 0, Math.min(filled, rgb.length - filled));
  }
  return { width, height, rgb };
}

/** The colour of pixel (x, y). */
export function pixelAt(raster: Raster, x: number, y: number): Rgb {
  const i = (y * raster.width + x) * 3;
  return [raster.rgb[i]!, raster.rgb[i + 1]!, raster.rgb[i + 2]!];
}

/** Fills the half-open rectangle [x0, x1) × [y0, y1), clipped to the raster. */
export function fillRect(raster: Raster, x0: number, y0: number, x1: number, y1: number, colour: Rgb): void {
  const left = Math.max(0, x0);
  const right = Math.min(raster.width, x1);
  const top = Math.max(0, y0);
  const bottom = Math.min(raster.height, y1);
  if (left >= right || top >= bottom) return;
  const [r, g, b] = colour;
  const data = raster.rgb;
  const rowStart = (top * raster.width + left) * 3;
  const rowEnd = rowStart + (right - left) * 3;
  for (let i = rowStart; i < rowEnd; i += 3) {
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
  }
  const stride = raster.width * 3;
  if (right - left < 8) {
    // Narrow (e.g. a 1-px line): per-pixel writes beat a native call per row.
    for (let y = top + 1; y < bottom; y += 1) {
      for (let i = rowStart + (y - top) * stride, end = i + (right - left) * 3; i < end; i += 3) {
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
      }
    }
    return;
  }
  // NOTE: the remaining rows copy the first one (native memmove), much faster than per-pixel writes.
  for (let y = top + 1; y < bottom; y += 1) data.copyWithin(rowStart + (y - top) * stride, rowStart, rowEnd);
}

/** Fills pixels x0..x1-1 of row y (clipped). */
function fillSpan(raster: Raster, y: number, x0: number, x1: number, colour: Rgb): void {
  if (y < 0 || y >= raster.height) return;
  const left = Math.max(0, x0);
  const right = Math.min(raster.width, x1);
  const data = raster.rgb;
  for (let i = (y * raster.width + left) * 3, end = (y * raster.width + right) * 3; i < end; i += 3) {
    data[i] = colour[0];
    data[i + 1] = colour[1];
    data[i + 2] = colour[2];
  }
}

/**
 * Fills a disc of centre (cx2/2, cy2/2) and radius r2/2 (doubled units): every pixel whose centre
 * lies inside or on the circle.
 */
export function fillDisc(raster: Raster, cx2: number, cy2: number, r2: number, colour: Rgb): void {
  const reach = Math.ceil(r2 / 2) + 1;
  const cx = Math.floor(cx2 / 2);
  const cy = Math.floor(cy2 / 2);
  for (let y = cy - reach; y <= cy + reach; y += 1) {
    let first = Infinity;
    let last = -Infinity;
    for (let x = cx - reach; x <= cx + reach; x += 1) {
      const dx = 2 * x + 1 - cx2;
      const dy = 2 * y + 1 - cy2;
      if (dx * dx + dy * dy <= r2 * r2) {
        first = Math.min(first, x);
        last = x;
      }
    }
    if (last >= first) fillSpan(raster, y, first, last + 1, colour);
  }
}

/** Fills the triangle with vertices in doubled units: every pixel whose centre is inside or on an edge. */
export function fillTriangle(raster: Raster, vertices: readonly [number, number][], colour: Rgb): void {
  const [a, b, c] = vertices as [[number, number], [number, number], [number, number]];
  const area = edge(a, b, c);
  if (area === 0) return;
  const xs = [a[0], b[0], c[0]];
  const ys = [a[1], b[1], c[1]];
  const left = Math.floor(Math.min(...xs) / 2);
  const right = Math.ceil(Math.max(...xs) / 2);
  const top = Math.floor(Math.min(...ys) / 2);
  const bottom = Math.ceil(Math.max(...ys) / 2);
  const sign = Math.sign(area);
  const p: [number, number] = [0, 0];
  for (let y = top; y <= bottom; y += 1) {
    let first = Infinity;
    let last = -Infinity;
    p[1] = 2 * y + 1;
    for (let x = left; x <= right; x += 1) {
      p[0] = 2 * x + 1;
      // A convex shape covers one contiguous span per row.
      if (edge(b, c, p) * sign >= 0 && edge(c, a, p) * sign >= 0 && edge(a, b, p) * sign >= 0) {
        first = Math.min(first, x);
        last = x;
      }
    }
    if (last >= first) fillSpan(raster, y, first, last + 1, colour);
  }
}

function edge(a: readonly [number, number], b: readonly [number, number], p: readonly [number, number]): number {
  return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
}

/**
 * Draws an axis-aligned segment between two points (pixel coordinates) as a band `thickness`
 * pixels wide, ends included. Paths on a grid only ever need axis-aligned segments.
 */
export function drawSegment(
  raster: Raster,
  from: readonly [number, number],
  to: readonly [number, number],
  thickness: number,
  colour: Rgb,
): void {
  const before = Math.floor((thickness - 1) / 2);
  const after = thickness - before;
  const x0 = Math.min(from[0], to[0]);
  const x1 = Math.max(from[0], to[0]);
  const y0 = Math.min(from[1], to[1]);
  const y1 = Math.max(from[1], to[1]);
  fillRect(raster, x0 - before, y0 - before, x1 + after, y1 + after, colour);
}

/** Cell boundaries of an `n`-cell axis over `sizePx` pixels: `floor(i * sizePx / n)`, i = 0..n. */
export function cellEdges(n: number, sizePx: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => Math.floor((i * sizePx) / n));
}

// ---------------------------------------------------------------------------------------------
// PNG encoding

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const DEFLATE_OPTIONS = { level: 6, strategy: constants.Z_RLE } as const;
const CRC_TABLE = makeCrcTable();

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i += 1) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i += 1) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/**
 * The palette and the filtered scanlines of a paletted PNG in one pass, or null with more than
 * 256 colours. A row equal to the previous one — frequent in flat renders, found with a native
 * compare — is written with filter 2 (Up) as all zeros, which run-length deflate reduces to almost
 * nothing; every other row is written with filter 0 (the indices themselves).
 */
function toPaletteRows(raster: Raster): { rows: Uint8Array; palette: number[] } | null {
  const { width, height } = raster;
  const rows = new Uint8Array(height * (width + 1));
  const lookup = new Map<number, number>();
  const palette: number[] = [];
  const data = raster.rgb;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const stride = width * 3;
  let lastKey = -1;
  let lastIndex = 0;
  for (let y = 0; y < height; y += 1) {
    let at = y * (width + 1);
    if (y > 0 && bytes.compare(bytes, y * stride, (y + 1) * stride, (y - 1) * stride, y * stride) === 0) {
      rows[at] = 2;
      continue;
    }
    for (let i = y * stride, end = i + stride; i < end; i += 3) {
      const key = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
      if (key !== lastKey) {
        let index = lookup.get(key);
        if (index === undefined) {
          if (palette.length === 256) return null;
          index = palette.length;
          palette.push(key);
          lookup.set(key, index);
        }
        lastKey = key;
        lastIndex = index;
      }
      at += 1;
      rows[at] = lastIndex;
    }
  }
  return { rows, palette };
}

/** RGB scanlines, each with filter 0 (the rare >256-colour case). */
function rgbRows(data: Uint8Array, height: number, bytesPerRow: number): Uint8Array {
  const out = new Uint8Array(height * (bytesPerRow + 1));
  for (let y = 0; y < height; y += 1) out.set(data.subarray(y * bytesPerRow, (y + 1) * bytesPerRow), y * (bytesPerRow + 1) + 1);
  return out;
}

/** Encodes a raster as PNG bytes (deterministic; see the module header). */
export function encodePng(raster: Raster): Uint8Array {
  const { width, height } = raster;
  if (raster.rgb.length !== width * height * 3) {
    throw new RangeError(`encodePng: raster ${width}×${height} needs ${width * height * 3} bytes, has ${raster.rgb.length}`);
  }
  const paletted = toPaletteRows(raster);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = paletted ? 3 : 2; // colour type: palette or RGB
  const parts: Uint8Array[] = [PNG_SIGNATURE, chunk('IHDR', header)];
  let raw: Uint8Array;
  if (paletted) {
    const plte = new Uint8Array(paletted.palette.length * 3);
    paletted.palette.forEach((key, i) => plte.set([key >>> 16, (key >>> 8) & 0xff, key & 0xff], i * 3));
    parts.push(chunk('PLTE', plte));
    raw = paletted.rows;
  } else {
    raw = rgbRows(raster.rgb, height, width * 3);
  }
  parts.push(chunk('IDAT', new Uint8Array(deflateSync(raw, DEFLATE_OPTIONS))), chunk('IEND', new Uint8Array(0)));
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
