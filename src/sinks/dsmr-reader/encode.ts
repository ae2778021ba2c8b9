// application/x-www-form-urlencoded built from bytes, not from a JavaScript string: the telegram reaches DSMR-reader
// exactly as the meter sent it, whatever bytes it holds (DSMR 2.2 Iskra headers carry 0x5C, some fixtures 0xAB).
const HEX = '0123456789ABCDEF';

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
    b === 0x2a || b === 0x2d || b === 0x2e || b === 0x5f
  );
}

export function encodeFormField(name: string, value: Uint8Array): Buffer {
  const prefix = Buffer.from(`${name}=`, 'latin1');
  const out = Buffer.allocUnsafe(prefix.length + value.length * 3);
  prefix.copy(out);
  let n = prefix.length;
  for (let i = 0; i < value.length; i++) {
    const b = value[i];
    if (isUnreserved(b)) out[n++] = b;
    else if (b === 0x20) out[n++] = 0x2b;
    else {
      out[n++] = 0x25;
      out[n++] = HEX.charCodeAt(b >> 4);
      out[n++] = HEX.charCodeAt(b & 15);
    }
  }
  return out.subarray(0, n);
}
