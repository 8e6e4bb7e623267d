/**
 * The common tail of `data build` and `data import`: render each record's image into the staging
 * directory, write one JSONL file per split, then `manifest.json` with every file's sha256.
 * Records are written in the order given (callers order them by task, level, index).
 */
import { encodePng, getEnv } from '../envs/index.js';
import type { Instance, RenderStyle } from '../envs/types.js';
import type { StagingDir } from './atomic-dir.js';
import { formatJsonl } from './jsonl.js';
import { countRecords, DATASET_FORMAT, type DatasetManifest, formatManifest, MANIFEST_FILE, type ManifestOrigin } from './manifest.js';
import { type DataRecord, READ_ORDER, recordsPathOf } from './schema.js';

/** How images are drawn (`data.renderStyle`, `data.imageSizePx`). */
export interface RenderInput {
  style: RenderStyle;
  sizePx: number;
}

/** Renders `instance` and writes it as PNG at `record.image` inside the staging directory. */
export function writeRecordImage(dir: StagingDir, record: DataRecord, render: RenderInput): void {
  const spec = getEnv(record.task).spec;
  const raster = spec.render(record.instance as Instance, { style: render.style, sizePx: render.sizePx });
  dir.writeFile(record.image, encodePng(raster));
}

/** What `writeRecordsAndManifest` needs besides the records. */
export interface ManifestInput {
  toolVersion: string;
  generatorVersion: string | number;
  origin: ManifestOrigin;
  render: RenderInput;
}

/** Writes `<split>.jsonl` for every split that has records, then the manifest; returns the manifest. */
export function writeRecordsAndManifest(dir: StagingDir, records: readonly DataRecord[], input: ManifestInput): DatasetManifest {
  for (const split of READ_ORDER) {
    const ofSplit = records.filter((record) => record.split === split);
    if (ofSplit.length > 0) dir.writeFile(recordsPathOf(split), formatJsonl(ofSplit));
  }
  const manifest: DatasetManifest = {
    format: DATASET_FORMAT,
    toolVersion: input.toolVersion,
    generatorVersion: input.generatorVersion,
    origin: input.origin,
    render: { style: input.render.style, sizePx: input.render.sizePx },
    counts: countRecords(records),
    files: dir.sortedHashes(),
  };
  dir.writeFile(MANIFEST_FILE, formatManifest(manifest));
  return manifest;
}
