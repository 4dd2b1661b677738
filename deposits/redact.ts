// Keeps the access token out of everything the client logs or throws: a URL's access_token
// parameter, and the token itself wherever an answer or an error message might echo it.

const REDACTED = '[redacted]';
const LOGGED_JSON_CHARS = 2000;

export function redactUrl(url: string | URL): string {
  const u = new URL(String(url));
  for (const name of [...u.searchParams.keys()]) if (/token|key|secret/i.test(name)) u.searchParams.set(name, REDACTED);
  return u.toString();
}

export function scrub(text: string, token: string): string {
  return token ? text.split(token).join(REDACTED) : text;
}

/** An answer for the log: its JSON, or the start of it when long, with the token scrubbed. */
export function forLog(text: string, token: string): unknown {
  const clean = scrub(text, token);
  if (clean.length > LOGGED_JSON_CHARS) return `${clean.slice(0, LOGGED_JSON_CHARS)}… (${clean.length} chars)`;
  try {
    return clean ? (JSON.parse(clean) as unknown) : undefined;
  } catch {
    return clean;
  }
}
