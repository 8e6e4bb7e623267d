/**
 * Opening a dataset directory (built or imported) for reading: its manifest and every record,
 * validated against the record schema, with each split file checked against the manifest's sha256.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { DataError } from '../errors.js';
import { readJsonl } from './jsonl.js';
import { type DatasetManifest, MANIFEST_FILE, readManifest } from './manifest.js';
import { type DataRecord, DataRecordSchema, READ_ORDER, recordsPathOf, type Split } from './schema.js';

/** A dataset in memory. */
export interface Dataset {
  /** Absolute path of the dataset directory. */
  dir: string;
  manifest: DatasetManifest;
  /** Every record, splits in reading order (train, val, test). */
  records: DataRecord[];
  byId: Map<string, DataRecord>;
}

/** Reads `dir`; fails with a `DataError` naming the file (and line) on any inconsistency. */
export function openDataset(dir: string): Dataset {
  const root = resolve(dir);
  if (!existsSync(join(root, MANIFEST_FILE))) {
    throw new DataError('dataset_not_found', `${root} is not an mgsd dataset (no ${MANIFEST_FILE})`, {
      hint: 'Create one with `mgsd data build --out <dir>` or `mgsd data import <kind> <file> --out <dir>`.',
      context: { dir: root },
    });
  }
  const manifest = readManifest(root);
  const records: DataRecord[] = [];
  const byId = new Map<string, DataRecord>();
  for (const split of READ_ORDER) {
    const relative = recordsPathOf(split);
    if (manifest.files[relative] === undefined) continue;
    const path = join(root, relative);
    checkHash(path, manifest.files[relative]);
    for (const row of readJsonl(path, DataRecordSchema, 'dataset records')) {
      checkRecord(path, row.lineNumber, row.value, split, byId);
      records.push(row.value);
      byId.set(row.value.id, row.value);
    }
  }
  return { dir: root, manifest, records, byId };
}

function checkHash(path: string, expected: string): void {
  const actual = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (actual !== expected) {
    throw new DataError('dataset_modified', `${path}: sha256 ${actual.slice(0, 12)}… differs from the manifest (${expected.slice(0, 12)}…)`, {
      hint: 'The file was changed after the dataset was written; rebuild or re-import the dataset.',
      context: { path },
    });
  }
}

function checkRecord(path: string, lineNumber: number, record: DataRecord, split: Split, byId: Map<string, DataRecord>): void {
  if (record.split !== split) {
    throw new DataError('dataset_bad_record', `${path}:${lineNumber}: record ${record.id} says split "${record.split}" inside ${split}.jsonl`);
  }
  if (byId.has(record.id)) {
    throw new DataError('dataset_duplicate_id', `${path}:${lineNumber}: duplicate record id "${record.id}"`, {
      hint: 'Record ids must be unique across the splits of a dataset; rebuild it.',
    });
  }
}

/** Finds a record by id; an unknown id is a `DataError` that lists a few known ones. */
export function findRecord(dataset: Dataset, id: string): DataRecord {
  const record = dataset.byId.get(id);
  if (record === undefined) {
    const examples = dataset.records.slice(0, 3).map((known) => `"${known.id}"`).join(', ');
    throw new DataError('unknown_id', `no record with id "${id}" in ${dataset.dir}`, {
      hint: `Ids look like ${examples}; \`mgsd data show ${dataset.dir}\` prints the first record.`,
    });
  }
  return record;
}

/** The first record in reading order; an empty dataset is a `DataError`. */
export function firstRecord(dataset: Dataset): DataRecord {
  const record = dataset.records[0];
  if (record === undefined) {
    throw new DataError('dataset_empty', `${dataset.dir} holds no records`, { hint: 'Rebuild it with non-zero tasks.<task>.perLevel sizes.' });
  }
  return record;
}
