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

  it('is byte-identical for equal input', () => {
    const make = (): Uint8Array => {
      const raster = createRaster(64, 64, [200, 200, 200]);
      fillDisc(raster, 64, 64, 40, [1, 2, 3]);
      return encodePng(raster);
    };
    expect(Buffer.from(make()).equals(Buffer.from(make()))).toBe(true);
  });
});

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
