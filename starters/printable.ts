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

/** Width of the terminal human tables are made for. */
export const COLUMNS = 80;

/**
 * A table row cut to `width` characters, its end replaced by `…` when anything was cut: a long
 * reason must not wrap a table (`--json` keeps the whole text). Give it escaped text (escapes
 * lengthen a line).
 */
export function fit(line: string, width = COLUMNS): string {
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, width - 1).join('')}…`;
}

/**
 * A line of running text broken at spaces into lines of at most `width` characters (a word
 * longer than that is broken where it must), continued four spaces deeper than it starts:
 * nothing is lost, unlike `fit`. Give it escaped text.
 */
export function wrap(line: string, width = COLUMNS): string[] {
  const indent = [...' '.repeat((/^ */.exec(line)?.[0].length ?? 0) + 4)];
  const out: string[] = [];
  let rest = [...line];
  while (rest.length > width) {
    let cut = rest.lastIndexOf(' ', width);
    if (cut <= indent.length) cut = width;
    out.push(rest.slice(0, cut).join('').trimEnd());
    rest = [...indent, ...rest.slice(cut).join('').trimStart()];
  }
  out.push(rest.join(''));
  return out;
}
