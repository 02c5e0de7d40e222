// PROXY protocol constants shared by the parser (prelude) and the writer (connect): signature, codes, caps.
// Numbers from HAProxy's doc/proxy-protocol.txt (versions 1 and 2, revision 2020/03/05).

/** The 12 bytes that open every v2 header: \r\n\r\n\0\r\nQUIT\n. */
export const PP2_SIGNATURE: readonly number[] = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
/** Fixed part of a v2 header: signature, version/command, family/protocol, 16-bit length. */
export const PP2_FIXED_LENGTH = 16;
/** Byte 13: version 2 with the LOCAL or the PROXY command. */
export const PP2_LOCAL = 0x20;
export const PP2_PROXY = 0x21;

/** Byte 14: address family (high nibble) and transport (low nibble), the seven combinations the spec lists. */
export const PP2_UNSPEC = 0x00;
export const PP2_TCP4 = 0x11;
export const PP2_UDP4 = 0x12;
export const PP2_TCP6 = 0x21;
export const PP2_UDP6 = 0x22;
export const PP2_UNIX_STREAM = 0x31;
export const PP2_UNIX_DGRAM = 0x32;

/** Address block size by family: 2 x 4 + 2 x 2, 2 x 16 + 2 x 2, 2 x 108 (UNIX: no ports). */
export const PP2_ADDR_INET = 12;
export const PP2_ADDR_INET6 = 36;
export const PP2_ADDR_UNIX = 216;
export const PP2_UNIX_PATH = 108;

/** TLV types (2.2.1 - 2.2.8) and the SSL sub-types. */
export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;
export const PP2_TYPE_SSL = 0x20;
export const PP2_SUBTYPE_SSL_VERSION = 0x21;
export const PP2_SUBTYPE_SSL_CN = 0x22;
export const PP2_SUBTYPE_SSL_CIPHER = 0x23;
export const PP2_SUBTYPE_SSL_SIG_ALG = 0x24;
export const PP2_SUBTYPE_SSL_KEY_ALG = 0x25;
export const PP2_TYPE_NETNS = 0x30;
export const PP2_TYPE_MIN_CUSTOM = 0xe0;
export const PP2_TYPE_MAX_CUSTOM = 0xef;

/** Bits of the SSL TLV's <client> byte. */
export const PP2_CLIENT_SSL = 0x01;
export const PP2_CLIENT_CERT_CONN = 0x02;
export const PP2_CLIENT_CERT_SESS = 0x04;

/** v1: the longest line a receiver must take, CRLF included ("PROXY UNKNOWN" + two IPv6 + two ports). */
export const PP1_MAX_LENGTH = 107;
/** v1: the shortest line ("PROXY UNKNOWN\r\n"). */
export const PP1_MIN_LENGTH = 15;

/**
 * Cap on the TLV bytes of a v2 header (its length field minus the address block). The largest header a
 * receiver will buffer is then 16 + 216 + 2048 = 2280 bytes. HAProxy's own fullest v2 header (authority
 * 255, unique id 128, SSL with CN, cipher, version and algorithms, CRC32C) stays under 800 bytes, and cloud
 * load balancers add one or two custom TLVs of tens of bytes, so 2048 leaves room without letting a peer
 * make weir hold 64 KiB per connection.
 */
export const PP2_TLV_CAP = 2048;
/** Value caps the parser enforces: the spec's 128 for UNIQUE_ID, a DNS name's 255 for AUTHORITY (as HAProxy). */
export const PP2_UNIQUE_ID_MAX = 128;
export const PP2_AUTHORITY_MAX = 255;
