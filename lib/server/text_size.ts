/**
 * Sizes of strings as storage sees them, measured without allocating: the
 * room log bounds rooms by UTF-8 bytes, and Deno KV limits values by their
 * V8-serialised size (1 byte per char for Latin-1 strings, 2 otherwise).
 * @module
 */

/** The UTF-8 length of `text` in bytes, counted without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * An upper bound of the bytes V8 serialisation (what Deno KV stores) needs for
 * `text`; `ascii` (known by the caller) skips the scan.
 */
export function serializedLength(text: string, ascii = false): number {
  if (ascii) return text.length + 8;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) return 2 * text.length + 8;
  }
  return text.length + 8;
}
