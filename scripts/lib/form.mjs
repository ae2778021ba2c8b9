// HTML form bodies decoded to raw bytes, never through a text decoding, so a telegram's every byte survives exactly:
// what the stand-in DSMR-reader and the bench read posted telegrams with. Pure; types in form.d.mts beside it.

/**
 * The fields of a form body: urlencoded, or multipart/form-data; nothing for any other content type.
 * @param {string | undefined} contentType
 * @param {Buffer} body
 * @returns {Map<string, Buffer>}
 */
export function formFields(contentType, body) {
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) return decodeForm(body);
  if (type.startsWith('multipart/form-data')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1];
    if (boundary) return decodeMultipart(body, boundary);
  }
  return new Map();
}

/**
 * Decodes application/x-www-form-urlencoded bytes without ever going through a text decoding, so bytes such as 0xAB
 * that are not valid UTF-8 survive exactly. The first occurrence of a name wins.
 * @param {Buffer} body
 * @returns {Map<string, Buffer>}
 */
export function decodeForm(body) {
  /** @type {Map<string, Buffer>} */
  const fields = new Map();
  if (body.length === 0) return fields;
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x26 /* & */, start);
    if (end === -1) end = body.length;
    const pair = body.subarray(start, end);
    if (pair.length > 0) {
      const eq = pair.indexOf(0x3d /* = */);
      const name = percentDecode(eq === -1 ? pair : pair.subarray(0, eq)).toString('latin1');
      const value = eq === -1 ? Buffer.alloc(0) : percentDecode(pair.subarray(eq + 1));
      if (!fields.has(name)) fields.set(name, value);
    }
    start = end + 1;
  }
  return fields;
}

/**
 * The named parts of a multipart/form-data body, raw bytes as sent. The first occurrence of a name wins.
 * @param {Buffer} body
 * @param {string} boundary
 * @returns {Map<string, Buffer>}
 */
export function decodeMultipart(body, boundary) {
  /** @type {Map<string, Buffer>} */
  const fields = new Map();
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const partStart = at + delimiter.length;
    const next = body.indexOf(delimiter, partStart);
    if (next === -1) break;
    const part = body.subarray(partStart, next);
    const split = part.indexOf('\r\n\r\n');
    if (split !== -1) {
      const name = /name="([^"]*)"/i.exec(part.subarray(0, split).toString('latin1'))?.[1];
      // The part's content ends with the CRLF that comes before the next delimiter.
      let end = part.length;
      if (part[end - 2] === 0x0d && part[end - 1] === 0x0a) end -= 2;
      if (name !== undefined && !fields.has(name)) fields.set(name, part.subarray(split + 4, end));
    }
    at = next;
  }
  return fields;
}

/**
 * `+` is a space and `%XX` a byte; a stray `%` is kept as-is, like most form parsers do.
 * @param {Buffer} encoded
 * @returns {Buffer}
 */
export function percentDecode(encoded) {
  const out = Buffer.alloc(encoded.length);
  let n = 0;
  for (let i = 0; i < encoded.length; i++) {
    const byte = /** @type {number} */ (encoded[i]);
    if (byte === 0x2b /* + */) {
      out[n++] = 0x20;
    } else if (byte === 0x25 /* % */ && i + 2 < encoded.length && isHex(encoded[i + 1]) && isHex(encoded[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(/** @type {number} */ (encoded[i + 1]), /** @type {number} */ (encoded[i + 2])), 16);
      i += 2;
    } else {
      out[n++] = byte;
    }
  }
  return out.subarray(0, n);
}

/** @param {number | undefined} byte */
function isHex(byte) {
  if (byte === undefined) return false;
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}
