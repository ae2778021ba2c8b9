// Types for form.mjs.

/** The fields of a form body: urlencoded or multipart/form-data; none for another content type. */
export function formFields(contentType: string | undefined, body: Buffer): Map<string, Buffer>;
/** application/x-www-form-urlencoded fields as raw bytes; the first occurrence of a name wins. */
export function decodeForm(body: Buffer): Map<string, Buffer>;
/** multipart/form-data parts as raw bytes; the first occurrence of a name wins. */
export function decodeMultipart(body: Buffer, boundary: string): Map<string, Buffer>;
/** `+` is a space and `%XX` a byte; a stray `%` is kept as-is. */
export function percentDecode(encoded: Buffer): Buffer;
