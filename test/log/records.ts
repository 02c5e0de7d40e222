// A typical access-log record, shared by the logger and access-line tests.

import type { AccessRecord } from '../../src/log/logger';

export const base: AccessRecord = {
  id: '4211-17',
  protocol: 'tcp',
  route: '1',
  client: '127.0.0.1:45678',
  server: '[::1]:9100',
  upstream: '10.0.0.5:3306',
  bytes_from_client: 14,
  bytes_to_client: 7,
  duration_ms: 3,
  end: 'closed',
};
