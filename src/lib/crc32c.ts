// CRC32C (Castagnoli, RFC 4960 appendix B): the checksum of the PROXY protocol v2 CRC32C TLV.
// Runs per PROXY v2 header that carries or asks for the TLV; table-driven, no allocation per call.

const POLY_REFLECTED = 0x82f63b78;

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC32C of bytes[start, end), as an unsigned 32-bit number. `skip` (an offset) replaces the 4 bytes at
 * bytes[skip, skip + 4) with zeros without touching the input: the receiver's rule for the CRC32C TLV value.
 */
export function computeCrc32c(bytes: Uint8Array, start = 0, end = bytes.length, skip = -1): number {
  let crc = 0xffffffff;
  const zeroFrom = skip >= start && skip < end ? skip : end;
  const zeroTo = Math.min(zeroFrom + 4, end);
  for (let i = start; i < zeroFrom; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  for (let i = zeroFrom; i < zeroTo; i++) crc = TABLE[crc & 0xff]! ^ (crc >>> 8);
  for (let i = zeroTo; i < end; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
