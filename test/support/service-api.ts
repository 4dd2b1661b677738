import type { CustodySystem } from './custody-system';

/** What the reference service says it received, as an operator would ask it. */
export async function submissions(sys: CustodySystem): Promise<Array<{ sipId: string; count: number; transfers: number; sha256: string }>> {
  const res = await fetch(`${sys.serviceUrl}/api/2.0/ingest/submissions`);
  return ((await res.json()) as { data: Array<{ sipId: string; count: number; transfers: number; sha256: string }> }).data;
}
