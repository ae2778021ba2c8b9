// application/x-www-form-urlencoded built from bytes, not from a JavaScript string: the telegram reaches DSMR-reader
// exactly as the meter sent it, whatever bytes it holds (DSMR 2.2 Iskra headers carry 0x5C, some fixtures 0xAB).
//
// Every byte but A-Z a-z 0-9 * - . _ becomes %XX, a space '+'. The work is done by V8's native escape() on the bytes
// read as latin1 (one character per byte, each below 256, so %XX of the byte itself and never UTF-8): without the
// optimizing JIT a byte loop here cost 50-60 microseconds a telegram, several times as much. escape() leaves @ + /
// as they are and writes a space as %20; those are put right after.
// The result is ASCII, kept a string: written as latin1 it needs no Buffer of its own per telegram (at a backlog's pace
// of thousands a second, that churn alone held megabytes of freed memory).
export function encodeFormField(name: string, value: Uint8Array): string {
  let form = escape(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1'));
  if (form.includes('/')) form = form.replaceAll('/', '%2F');
  if (form.includes('+')) form = form.replaceAll('+', '%2B');
  if (form.includes('@')) form = form.replaceAll('@', '%40');
  if (form.includes('%20')) form = form.replaceAll('%20', '+');
  return `${name}=${form}`;
}
