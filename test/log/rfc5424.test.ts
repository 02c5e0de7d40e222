// RFC 5424 messages as the syslog plugin writes them: PRI, version, UTC timestamp to the millisecond, the
// header fields cleaned to printable US-ASCII (or "-"), no structured data, the JSON message.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FACILITY, formatSyslog, headerField, prepareHeader, SEVERITY } from '../../src/log/rfc5424';

describe('RFC 5424', () => {
  it("APISIX's choice, facility syslog and severity info: <46>1", () => {
    const h = prepareHeader({ facility: FACILITY.syslog!, severity: SEVERITY.info!, hostname: 'edge-1', appName: 'weir', procId: '4242', msgId: '-' });
    assert.equal(formatSyslog(h, Date.UTC(2024, 4, 1, 12, 0, 0, 123), '{"a":1}'), '<46>1 2024-05-01T12:00:00.123Z edge-1 weir 4242 - - {"a":1}');
  });

  it('PRI is facility * 8 + severity', () => {
    assert.equal(prepareHeader({ facility: FACILITY.local7!, severity: SEVERITY.debug!, hostname: 'h', appName: 'a', procId: '1', msgId: 'm' }).pri, '<191>1 ');
    assert.equal(prepareHeader({ facility: FACILITY.kern!, severity: SEVERITY.emerg!, hostname: 'h', appName: 'a', procId: '1', msgId: 'm' }).pri, '<0>1 ');
  });

  it('header fields: printable US-ASCII without spaces, cut to their maximum; empty is the NILVALUE', () => {
    assert.equal(headerField('edge host', 255), 'edgehost');
    assert.equal(headerField('héllo', 255), 'hllo');
    assert.equal(headerField('', 48), '-');
    assert.equal(headerField('   ', 48), '-');
    assert.equal(headerField('x'.repeat(60), 48), 'x'.repeat(48));
  });
});
