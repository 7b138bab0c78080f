/**
 * Copies text to the clipboard, reporting failure instead of throwing: the
 * Clipboard API is missing on plain-HTTP pages and may be refused.
 * @module
 */

/** Copies `text`; resolves false (after logging why) when the browser refuses. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (error) {
    console.warn("Parley: copying to the clipboard failed", error);
    return false;
  }
}
