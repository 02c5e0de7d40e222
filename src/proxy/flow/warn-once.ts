// A warning logged once per compiled object (a route that cannot forward): a client retrying in a loop
// cannot flood the log, and a new snapshot's object (a fixed or changed route) is warned about afresh.

import { logger } from '../../log/logger';

export class WarnOnce<K extends object> {
  private readonly warned = new WeakSet<K>();

  constructor(private readonly message: string) {}

  warn(key: K, fields: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    logger.warn(this.message, fields);
  }
}
