// `custody find --build ID` and `custody reenqueue --build ID`: what one build of custody's
// workers produced, read from the build id stamped on every ledger row an activity writes, so
// a bad deployment's output can be listed and redone instead of hunted for by hand.
import type { BuildFootprint, Ledger } from '../ledger';
import { fit, printable, wrap } from './printable';
import { UserError } from './user-error';

const MAX_BUILD_ID = 200;

/** Refuses a build id no worker can have had: empty, blank-padded, over-long or with control characters. */
export function assertBuildId(id: string): void {
  const problem =
    id.trim() === ''
      ? 'it is empty'
      : id !== id.trim()
        ? 'it starts or ends with white space'
        : id.length > MAX_BUILD_ID
          ? `it is longer than ${MAX_BUILD_ID} characters`
          : printable(id) !== id || /\s/.test(id)
            ? 'it holds white space or control characters'
            : undefined;
  if (problem) throw new UserError(`invalid build id "${printable(id)}": ${problem} (a build id looks like 0.1.0+1a2b3c4d5e6f; see \`custody --version\`)`);
}

/** What the build touched, and the builds the ledger knows (to name when it touched nothing). */
export async function findBuild(ledger: Ledger, buildId: string): Promise<BuildFootprint & { knownBuilds: string[] }> {
  assertBuildId(buildId);
  const found = await ledger.builds.footprint(buildId);
  return { ...found, knownBuilds: touchedNothing(found) ? await ledger.builds.known() : [] };
}

export const touchedNothing = (f: BuildFootprint): boolean =>
  f.objects.length + f.articles.length + f.copies.length + f.packages.length + f.deliveries.length === 0;

/** The ids `reenqueue --build` acts on: objects, then articles (article:<id>), then copies (copy:<dataset>:<type>). */
export const itemsOf = (f: BuildFootprint): string[] => [...f.objects, ...f.articles, ...f.copies].map((i) => i.id);

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** One line per item, a table like status's, with a summary line first. */
export function formatFootprint(f: BuildFootprint & { knownBuilds: string[] }): string[] {
  if (touchedNothing(f)) {
    const known = f.knownBuilds.length ? `builds in the ledger: ${f.knownBuilds.join(', ')}` : 'no ledger row names any build yet';
    return [printable(`no ledger row names build ${f.buildId} (${known})`)];
  }
  const lines = [
    ...wrap(
      printable(
        `build ${f.buildId} touched ${plural(f.objects.length, 'object')}, ${plural(f.packages.length, 'package')}, ${plural(f.articles.length, 'article')}, ` +
          `${plural(f.copies.length, 'copy', 'copies')}, ${plural(f.deliveries.length, 'delivery', 'deliveries')}`,
      ),
    ),
    '',
    `${'KIND'.padEnd(9)} ${'ID'.padEnd(28)} DETAIL`,
  ];
  const row = (kind: string, id: string, detail: string) => lines.push(fit(printable(`${kind.padEnd(9)} ${id.padEnd(28)} ${detail}`)));
  for (const o of f.objects) row('object', o.id, `${plural(o.events, 'event')}, last ${o.last}`);
  for (const p of f.packages) row('package', p.sipId, `${p.verdict ?? 'no verdict yet'}, made ${p.createdAt}`);
  for (const a of f.articles) row('article', a.id, `${plural(a.events, 'event')}, last ${a.last}`);
  for (const c of f.copies)
    row('copy', c.id, [c.versions.length ? `v${c.versions.join(', v')}` : '', c.events ? plural(c.events, 'event') : ''].filter(Boolean).join('; '));
  for (const d of f.deliveries) row('delivery', d.itemId, `to ${d.destination}: ${d.state}`);
  return lines;
}
