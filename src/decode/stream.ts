// Splits a captured byte stream (a file, stdin, a raw serial dump) into telegrams for `inspect`. Unlike the live
// framer it sees the whole capture at once, so it also hands back the pieces that never completed, flagged as such:
// a capture that starts mid-telegram, a telegram cut short by the next one, or a meter that sends no "!" at all.

export interface StreamSegment {
  /** Byte offset of the "/" in the input. */
  offset: number;
  /** The telegram's bytes exactly as captured, from "/" through the CRC and its line end. */
  bytes: Uint8Array;
  /** true when it reached its "!" line; false when it was cut short by a new telegram or by the end of the input. */
  complete: boolean;
}

const SLASH = 0x2f;
const BANG = 0x21;
const CR = 0x0d;
const LF = 0x0a;

function isLetter(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
}

function isHexDigit(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

// An identification line is "/" and a three-letter manufacturer flag ("/ISK5", "/KFM5", "/NWA-"). Other slashes are
// data, such as the "test-/-test" text message of an Iskra MT382, and neither start nor cut a telegram.
function isHeaderStart(data: Uint8Array, i: number): boolean {
  return data[i] === SLASH && isLetter(data[i + 1]) && isLetter(data[i + 2]) && isLetter(data[i + 3]);
}

export function splitTelegrams(data: Uint8Array): StreamSegment[] {
  const segments: StreamSegment[] = [];
  let i = 0;
  while (i < data.length) {
    if (!isHeaderStart(data, i)) {
      i++;
      continue;
    }
    const start = i;
    let j = i + 1;
    while (j < data.length && data[j] !== BANG && !isHeaderStart(data, j)) j++;
    if (j >= data.length || data[j] !== BANG) {
      segments.push({ offset: start, bytes: data.subarray(start, j), complete: false });
      i = j;
      continue;
    }
    j++; // past "!"
    for (let digits = 0; digits < 4 && isHexDigit(data[j]); digits++) j++;
    if (data[j] === CR) j++;
    if (data[j] === LF) j++;
    segments.push({ offset: start, bytes: data.subarray(start, j), complete: true });
    i = j;
  }
  return segments;
}
