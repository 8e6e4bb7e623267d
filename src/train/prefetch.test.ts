import { describe, expect, it } from 'vitest';

import { prefetch } from './distill.js';

describe('prefetch (the OPSD loop’s abandoned next-step sampling)', () => {
  it('an abandoned rejected prefetch is not an unhandled rejection, and awaiting it still throws', async () => {
    const unhandled: unknown[] = [];
    const listener = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', listener);
    try {
      const abandoned = prefetch(Promise.reject(new Error('worker student died')));
      const awaited = prefetch(Promise.reject(new Error('worker teacher died')));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await expect(awaited).rejects.toThrow('worker teacher died');
      expect(unhandled).toEqual([]);
      void abandoned;
    } finally {
      process.off('unhandledRejection', listener);
    }
  });
});
