/**
 * The invite link as a QR code, drawn in the page so the key in the link's
 * fragment never leaves the browser. Loaded lazily: only the invite panel
 * needs it.
 * @module
 */
import { encode } from "uqr";

/** A QR code as one SVG path of dark modules, on a square of `size` units. */
export interface QrPath {
  /** Modules per side, quiet zone included. */
  size: number;
  /** SVG path data: one rectangle per horizontal run of dark modules. */
  d: string;
}

/** Quiet-zone modules around the code, enough for phone cameras. */
const QUIET_ZONE = 2;

/** Encodes `text` (medium error correction) and traces its dark modules. */
export function qrPath(text: string): QrPath {
  const { size, data } = encode(text, { ecc: "M", border: QUIET_ZONE });
  const parts: string[] = [];
  for (let y = 0; y < size; y++) {
    const row = data[y];
    let x = 0;
    while (x < size) {
      if (!row[x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < size && row[x]) x++;
      parts.push(`M${start} ${y}h${x - start}v1h${start - x}z`);
    }
  }
  return { size, d: parts.join("") };
}
