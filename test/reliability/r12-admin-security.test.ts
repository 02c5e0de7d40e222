// R12 short version: the admin security truth table with 4 methods x 3 paths (same code as the full run).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runR12 } from './r12-admin-security';

describe('R12 admin security truth table (short)', () => {
  it('0 cells differ from the expected table; weir start exits 2 on 0.0.0.0 + the published key', async () => {
    const f = await runR12('short');
    assert.equal(f.figures.cells_differing, 0, String(f.figures.first_differences));
    assert.ok((f.figures.cells as number) > 2000);
  });
});
