// The dates the CLI accepts (`--since`): ISO 8601 dates and date-times with a zone, or a
// time relative to now; a moment to act at (`approve --at`) only as a date-time with a zone.
// Anything else is refused, so a typo never silently selects another window
// (`new Date('2026-02-30')` is 2 March; `new Date('1')` is the year 2001).
import type { Timestamp } from '@temporalio/common';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const RELATIVE = /^(\d+)(m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

export const DATE_TIME_FORM = 'YYYY-MM-DDTHH:MM[:SS[.sss]] with Z or ±HH:MM';
export const DATE_FORMS = `YYYY-MM-DD, ${DATE_TIME_FORM}, or a time ago such as 7d, 12h, 30m, 2w`;

export class InvalidDateError extends Error {}

function isCalendarDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** The instant `value` names; relative forms count back from `now`. */
export function parseDate(value: string, now = new Date()): Date {
  const v = value.trim();
  const rel = RELATIVE.exec(v);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]]);
  const m = DATE.exec(v) ?? DATE_TIME.exec(v);
  if (!m) throw new InvalidDateError(`"${value}" is not a date (use ${DATE_FORMS})`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!isCalendarDate(y, mo, d)) throw new InvalidDateError(`"${value}" is not a date: ${m[1]}-${m[2]} has no day ${m[3]}`);
  if (m[4] !== undefined) {
    const zone = m[8] === 'Z' ? [0, 0] : m[8].slice(1).split(':').map(Number);
    if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59 || zone[0] > 23 || zone[1] > 59) {
      throw new InvalidDateError(`"${value}" is not a date: the time or the zone is out of range`);
    }
  }
  // Both forms are valid input to Date.parse, which then reads them exactly (a date alone as UTC midnight).
  return new Date(Date.parse(v));
}

/** An instant written out in full (a date-time with its zone): what a scheduled action takes, where "7d" or a bare date would be a guess. */
export function parseDateTime(value: string): Date {
  if (!DATE_TIME.test(value.trim())) throw new InvalidDateError(`"${value}" is not a date-time (use ${DATE_TIME_FORM}, e.g. 2026-05-04T09:00Z)`);
  return parseDate(value);
}

/** A protobuf timestamp (seconds may be a Long) as ISO 8601, or null when absent. */
export function iso(ts: Timestamp | null | undefined): string | null {
  if (!ts) return null;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0);
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}
