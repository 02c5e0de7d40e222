// Runs the shared SqlDb contract against bun:sqlite (only under Bun: `bun test test/runtime/sqlite/bun.test.ts`).

import { describe, it } from 'node:test';
import { detectRuntime } from '../../../src/runtime/index';
import { openBunSqlite } from '../../../src/runtime/sqlite/bun';
import { runSqlDbContract } from './contract.cases';

if (detectRuntime() === 'bun') runSqlDbContract(openBunSqlite, 'bun:sqlite');
else describe('SqlDb contract: bun:sqlite', () => it('needs Bun', { skip: 'bun:sqlite exists only under Bun' }, () => {}));
