import { inflateSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { decodePng } from './png-decode.js';
import { cellEdges, createRaster, encodePng, fillDisc, fillRect, fillTriangle, pixelAt } from './raster.js';

describe('encodePng', () => {
  it('round-trips a flat-colour raster through an independent decoder (palette path)', () => {
    const raster = createRaster(37, 23, [10, 20, 30]);
    fillRect(raster, 5, 5, 20, 12, [255, 0, 0]);
    fillDisc(raster, 50, 30, 16, [0, 255, 0]);
    fillTriangle(raster, [[2, 2], [30, 2], [2, 40]], [0, 0, 255]);
    const png = encodePng(raster);
    expect(png[25]).toBe(3); // colour type: palette
    expect(decodePng(png)).toEqual(raster);
  });

  it('falls back to RGB above 256 colours and still round-trips', () => {
    const raster = createRaster(20, 20, [0, 0, 0]);
    for (let i = 0; i < 400; i += 1) fillRect(raster, i % 20, Math.floor(i / 20), (i % 20) + 1, Math.floor(i / 20) + 1, [i % 256, Math.floor(i / 256), 7]);
    const png = encodePng(raster);
    expect(png[25]).toBe(2); // colour type: RGB
    expect(decodePng(png)).toEqual(raster);
  });

  it('writes the palette in first-appearance order and the scanlines the module header documents', () => {
    // Hand-computed: A B A / A B A / B B B → palette [A, B]; row 0 filter 0 with indices 0 1 0;
    // row 1 repeats row 0, so filter 2 (Up) and zeros; row 2 filter 0 with indices 1 1 1.
    const a = [10, 20, 30] as const;
    const b = [250, 0, 5] as const;
    const raster = createRaster(3, 3, a);
    fillRect(raster, 1, 0, 2, 3, b);
    fillRect(raster, 0, 2, 3, 3, b);
    const chunks = readChunks(encodePng(raster));
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'PLTE', 'IDAT', 'IEND']);
    expect([...chunks[0]!.data]).toEqual([0, 0, 0, 3, 0, 0, 0, 3, 8, 3, 0, 0, 0]);
    expect([...chunks[1]!.data]).toEqual([...a, ...b]);
    expect([...inflateSync(chunks[2]!.data)]).toEqual([0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 1, 1]);
    expect(chunks[3]!.data).toHaveLength(0);
  });
});

/** The chunks of a PNG (after the 8-byte signature), checked against the PNG signature. */
function readChunks(png: Uint8Array): { type: string; data: Uint8Array }[] {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    chunks.push({ type, data: png.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
  }
  return chunks;
}

describe('drawing primitives', () => {
  it('clips rectangles and samples shapes at pixel centres', () => {
    const raster = createRaster(10, 10, [0, 0, 0]);
    fillRect(raster, -5, -5, 3, 3, [9, 9, 9]);
    expect(pixelAt(raster, 2, 2)).toEqual([9, 9, 9]);
    expect(pixelAt(raster, 3, 3)).toEqual([0, 0, 0]);
    // Disc of radius 2 centred on pixel (5,5)'s centre: (5,3) is on the circle, (5,2) outside.
    fillDisc(raster, 11, 11, 4, [1, 1, 1]);
    expect(pixelAt(raster, 5, 3)).toEqual([1, 1, 1]);
    expect(pixelAt(raster, 5, 2)).toEqual([0, 0, 0]);
  });

  it('puts cell boundaries at floor(i * size / n)', () => {
    expect(cellEdges(3, 256)).toEqual([0, 85, 170, 256]);
    expect(cellEdges(4, 256)).toEqual([0, 64, 128, 192, 256]);
  });
});
