// The top entries of a V8 CPU profile (node --cpu-prof) by self time, each with where it is,
// and the share of the profile spent idle, in garbage collection and in custody's own code.
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export function summarizeProfile(file: string, top: number): string {
  const { nodes } = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
  const total = nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0) || 1;
  const byEntry = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const n of nodes) {
    const hits = n.hitCount ?? 0;
    if (!hits) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url
      .replace(/^file:\/\//, '')
      .replace(/.*\/node_modules\//, 'node_modules/')
      .replace(/.*\/wt-[^/]+\//, '');
    const key = `${functionName || '(anonymous)'}  ${where ? `${where}:${lineNumber + 1}` : ''}`;
    byEntry.set(key, (byEntry.get(key) ?? 0) + hits);
    const area = !url
      ? functionName.startsWith('(')
        ? functionName
        : '(native)'
      : url.includes('node_modules/@temporalio')
        ? '@temporalio (SDK)'
        : url.includes('node_modules/')
          ? 'other packages'
          : url.startsWith('node:')
            ? 'node core'
            : 'custody';
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const pct = (h: number) => `${((100 * h) / total).toFixed(1).padStart(5)} %`;
  const areas = [...byArea].sort((a, b) => b[1] - a[1]).map(([k, h]) => `${k} ${pct(h).trim()}`);
  const rows = [...byEntry]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, h]) => `  ${pct(h)}  ${k}`);
  return [`  by area: ${areas.join(', ')}`, ...rows].join('\n');
}
