// CRC16/ARC (poly 0x8005 reflected = 0xA001, init 0, no final xor), as DSMR 4+ meters append after the '!'.
// Four bytes a step ("slicing by 4"): without the optimizing JIT the loop's own cost dominates, and a quarter of the
// steps takes a quarter off the time of a telegram's CRC. TABLES[k][n] is the CRC of byte n followed by k zero bytes.
const TABLES = (() => {
  const t = [new Uint16Array(256), new Uint16Array(256), new Uint16Array(256), new Uint16Array(256)];
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[0][n] = c;
  }
  for (let k = 1; k < 4; k++) for (let n = 0; n < 256; n++) t[k][n] = (t[k - 1][n] >>> 8) ^ t[0][t[k - 1][n] & 0xff];
  return t;
})();
const [T0, T1, T2, T3] = TABLES;

export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  let i = start;
  for (const last4 = end - 3; i < last4; i += 4) {
    crc ^= bytes[i] | (bytes[i + 1] << 8);
    crc = T3[crc & 0xff] ^ T2[crc >>> 8] ^ T1[bytes[i + 2]] ^ T0[bytes[i + 3]];
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ T0[(crc ^ bytes[i]) & 0xff];
  return crc;
}
