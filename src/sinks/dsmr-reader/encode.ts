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
  return encodeAscii(name, value) ?? encodeBytes(name, value);
}

/**
 * The same encoding by V8's native encodeURIComponent, for a value without bytes above 0x7F (every telegram of a
 * meter): without the optimizing JIT the byte loop below costs several times as much. encodeURIComponent leaves
 * !'()~ as they are and writes a space as %20; the form encoding above does not. undefined for any other value.
 */
function encodeAscii(name: string, value: Uint8Array): Buffer | undefined {
  const encoded = encodeURIComponent(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1'));
  // Bytes 0x80-0xFF come out as UTF-8 (%C2.., %C3..); an ASCII value cannot give these, its '%' being %25.
  if (encoded.includes('%C2') || encoded.includes('%C3')) return undefined;
  const form = encoded
    .replaceAll('(', '%28')
    .replaceAll(')', '%29')
    .replaceAll('!', '%21')
    .replaceAll("'", '%27')
    .replaceAll('~', '%7E')
    .replaceAll('%20', '+');
  return Buffer.from(`${name}=${form}`, 'latin1');
}

function encodeBytes(name: string, value: Uint8Array): Buffer {
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
