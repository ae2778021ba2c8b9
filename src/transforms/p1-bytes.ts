// The few bytes that give a P1 telegram its shape, shared by the live framer and the capture splitter of `inspect`.
export const SLASH = 0x2f;
export const BANG = 0x21;
export const CR = 0x0d;
export const LF = 0x0a;

export function isLetter(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
}

export function isHexDigit(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}

/**
 * An identification line starts at `at`: "/" and a three-letter manufacturer flag ("/ISK5", "/KFM5", "/NWA-"), within
 * the first `end` bytes. Other slashes are data, such as the "test-/-test" text message of an Iskra MT382, and neither
 * start nor cut a telegram.
 */
export function isIdentificationStart(data: Uint8Array, at: number, end = data.length): boolean {
  return at + 3 < end && data[at] === SLASH && isLetter(data[at + 1]) && isLetter(data[at + 2]) && isLetter(data[at + 3]);
}
