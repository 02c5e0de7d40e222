// R2 short version: 12 model-based runs of up to 25 admin commands and connections (same code as the full run).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runR2 } from './r2-admin-model';

describe('R2 model-based admin sequences (short)', () => {
  it('0 divergences between weir (admin answers and the next connection) and the model', async () => {
    const f = await runR2('short');
    assert.equal(f.figures.divergences, 0, String(f.figures.first_divergence));
    assert.ok((f.figures.commands_executed as number) > 50);
  });
});
