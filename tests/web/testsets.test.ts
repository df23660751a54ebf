/** The held-out sets shipped with the page are still the data sets' test splits (train/data), untouched by training. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { heldOut, PUBLIC } from './make-testsets';

describe('web/public held-out sets', () => {
  for (const name of ['moons', 'mnist']) {
    it(`testset-${name}.json equals the first rows of the ${name} test split`, () => {
      const shipped = JSON.parse(readFileSync(join(PUBLIC, `testset-${name}.json`), 'utf8')) as { rows: number[][]; shape: number[] };
      const expected = heldOut(name);
      expect(shipped.shape).toEqual(expected.shape);
      expect(shipped.rows).toEqual(expected.rows);
    });
  }
});
