// Runs the shared SqlDb contract against node:sqlite (Node >= 22.13 / Deno; skipped where it does not exist).

import { describe, it } from 'node:test';
import { loadNodeSqlite, openNodeSqlite } from '../../../src/runtime/sqlite/node';
import { runSqlDbContract } from './contract.cases';

if (loadNodeSqlite()) runSqlDbContract(openNodeSqlite, 'node:sqlite');
else describe('SqlDb contract: node:sqlite', () => it('needs Node >= 22.13 or Deno', { skip: 'node:sqlite not in this runtime' }, () => {}));
