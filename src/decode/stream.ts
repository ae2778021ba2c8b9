// Splits a captured byte stream (a file, stdin, a raw serial dump) into telegrams for `inspect`. Unlike the live
// framer it sees the whole capture at once, so it also hands back the pieces that never completed, flagged as such:
// a capture that starts mid-telegram, a telegram cut short by the next one, or a meter that sends no "!" at all.

import { BANG, CR, isHexDigit, isIdentificationStart, LF } from '../transforms/p1-bytes.ts';

export interface StreamSegment {
  /** Byte offset of the "/" in the input. */
  offset: number;
  /** The telegram's bytes exactly as captured, from "/" through the CRC and its line end. */
  bytes: Uint8Array;
  /** true when it reached its "!" line; false when it was cut short by a new telegram or by the end of the input. */
  complete: boolean;
}

export function splitTelegrams(data: Uint8Array): StreamSegment[] {
  const segments: StreamSegment[] = [];
  let i = 0;
  while (i < data.length) {
    if (!isIdentificationStart(data, i)) {
      i++;
      continue;
    }
    const start = i;
    let j = i + 1;
    while (j < data.length && data[j] !== BANG && !isIdentificationStart(data, j)) j++;
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
