// Human-readable output shows control characters escaped: an id, title, reason or file name
// that carries an escape sequence must not be able to rewrite the operator's terminal.
// `--json` output is exact JSON and does not go through this.

// C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators and bidi
// overrides, which reorder or break what the operator reads just as well.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  if (SHORT[c]) return SHORT[c];
  return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** The text with every control character shown as an escape (\x1b, \u0085, \n). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escapeOne);
}

/** Prints one line of human output, escaped. */
export function say(line: string): void {
  console.log(printable(line));
}
