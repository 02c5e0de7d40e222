// One syslog message in RFC 5424's format (https://www.rfc-editor.org/rfc/rfc5424#section-6), as APISIX's
// syslog plugin writes them: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`, no structured data, the
// message a JSON object. Pure; the transport adds the framing (a line feed on TCP, RFC 6587 section 3.4.2).

/** Facility codes by name (RFC 5424 table 1). */
export const FACILITY: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** Severity codes by name (RFC 5424 table 2). */
export const SEVERITY: Readonly<Record<string, number>> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

/** The header fields that do not change between messages of one sender. */
export interface SyslogHeader {
  facility: number;
  severity: number;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
}

/**
 * A header field as RFC 5424 allows it: printable US-ASCII without spaces (33..126), at most `max`
 * characters; empty (or nothing printable) is the NILVALUE "-". Done once per sender, not per message.
 */
export function headerField(text: string, max: number): string {
  const printable = text.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return printable === '' ? '-' : printable;
}

/** The constant part of a sender's messages after the timestamp, prepared once. */
export function prepareHeader(h: SyslogHeader): { pri: string; rest: string } {
  const pri = `<${h.facility * 8 + h.severity}>1 `;
  const rest = ` ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} ${headerField(h.procId, 128)} ${headerField(h.msgId, 32)} - `;
  return { pri, rest };
}

/** A message, with the time in UTC to the millisecond (`2024-05-01T12:00:00.123Z`). */
export function formatSyslog(prepared: { pri: string; rest: string }, timeMs: number, message: string): string {
  return prepared.pri + new Date(timeMs).toISOString() + prepared.rest + message;
}
