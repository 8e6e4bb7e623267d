import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { ConfigError, UsageError } from '../errors.js';
import { loadConfigSections } from './config-sections.js';
import { parseOptions } from './parse-options.js';

describe('loadConfigSections', () => {
  it('takes the schema defaults without a config', () => {
    const sections = loadConfigSections(undefined, []);
    expect(sections.profile).toBe('paper');
    expect(sections.parser).toEqual({ block: 'last', requireTag: false, unknownTokens: 'fail', outOfBounds: 'fail' });
    expect(sections.data).toMatchObject({ renderStyle: 'paper', imageSizePx: 256, benchmarks: [] });
  });

  it('applies --set to the sections, with or without a preset', () => {
    expect(loadConfigSections(undefined, ['parser.block=first', 'data.imageSizePx=64']).parser.block).toBe('first');
    const tiny = loadConfigSections('tiny', ['parser.outOfBounds=stay']);
    expect(tiny.profile).toBe('compact');
    expect(tiny.data.renderStyle).toBe('compact');
    expect(tiny.parser.outOfBounds).toBe('stay');
  });

  it('rejects bad values and keys outside the sections, naming them', () => {
    expect(() => loadConfigSections(undefined, ['parser.block=middle'])).toThrow(ConfigError);
    expect(() => loadConfigSections(undefined, ['parser.block=middle'])).toThrow(/parser\.block: .*\(got "middle"\)/);
    expect(() => loadConfigSections(undefined, ['seed=3'])).toThrow(/--set seed: without --config/);
  });
});

describe('parseOptions', () => {
  const schema = z.object({ kind: z.enum(['a', 'b']), limitPerLevel: z.coerce.number().int().nonnegative() });

  it('returns the parsed options', () => {
    expect(parseOptions('data import', schema, { kind: 'a', limitPerLevel: '3' }, ['kind'])).toEqual({ kind: 'a', limitPerLevel: 3 });
  });

  it('names the flag or argument, the value received and the command', () => {
    const call = (): unknown => parseOptions('data import', schema, { kind: 'c', limitPerLevel: '-1' }, ['kind']);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(/mgsd data import: invalid option\n {2}<kind>: .*\(got "c"\)\n {2}--limit-per-level: .*\(got "-1"\)/);
  });
});
