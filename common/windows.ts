// Stage time windows: a task queue's daily hours (config `windows`), such as downloads only
// 20:00–04:00 in Europe/Berlin. The workflow asks how long until the window opens and sleeps that
// long on one timer. No Node imports: workflows use this module (Intl is part of the language).

/** The roles a window may be given: the data-moving stages (io carries every workflow's own tasks). */
export const WINDOWED_ROLES = ['download', 'package', 'submit'] as const;
export type WindowedRole = (typeof WINDOWED_ROLES)[number];

export interface StageWindow {
  /** Local time of day the window opens, HH:MM (24-hour). */
  from: string;
  /** Local time of day it closes, HH:MM; before `from` for a window over midnight. */
  to: string;
  /** IANA time zone the times are in, such as Europe/Berlin or UTC. */
  timeZone: string;
}
export type StageWindows = Partial<Record<WindowedRole, StageWindow>>;

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Seconds after midnight of an HH:MM time, or undefined when it is not one. */
export function clockSeconds(hhmm: string): number | undefined {
  const m = CLOCK.exec(hhmm);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 : undefined;
}

/** Why a window is not usable, or undefined. */
export function windowProblem(w: StageWindow): string | undefined {
  for (const [name, v] of [
    ['from', w.from],
    ['to', w.to],
  ] as const)
    if (clockSeconds(v) === undefined) return `${name} "${v}" is not a time of day HH:MM (00:00 to 23:59)`;
  if (w.from === w.to) return `from and to are both ${w.from}: a window needs hours in it`;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: w.timeZone });
  } catch {
    return `timeZone "${w.timeZone}" is not a time zone (an IANA name such as Europe/Berlin, or UTC)`;
  }
  return undefined;
}

/** The local time of day at `at` in the zone, in milliseconds after midnight. */
function localMsOfDay(at: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(at);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return ((part('hour') * 60 + part('minute')) * 60 + part('second')) * 1000 + (at % 1000);
}

/**
 * Milliseconds from `at` until the window opens; 0 inside it. Counted in local time of day, so on
 * the night the clocks change it can be an hour off: the caller looks again when it wakes.
 */
export function msUntilOpen(at: number, w: StageWindow): number {
  const now = localMsOfDay(at, w.timeZone);
  const from = clockSeconds(w.from)! * 1000;
  const to = clockSeconds(w.to)! * 1000;
  const inside = from < to ? now >= from && now < to : now >= from || now < to;
  if (inside) return 0;
  return (from - now + 86_400_000) % 86_400_000;
}

export const describeWindow = (w: StageWindow): string => `${w.from}–${w.to} ${w.timeZone}`;
