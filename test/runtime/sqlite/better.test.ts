// Runs the shared SqlDb contract against the better-sqlite3 driver.

import { openBetterSqlite } from '../../../src/runtime/sqlite/better';
import { runSqlDbContract } from './contract.cases';

runSqlDbContract(openBetterSqlite, 'better-sqlite3');
