// Datasets for the repository-copy tests, laid out as custody's copy source expects them.
import fs from 'node:fs';
import path from 'node:path';

/** Writes `<root>/<dataset>/v<version>/dataset.json` and the files of one copy type. */
export function writeDatasetVersion(root: string, datasetId: string, version: number, files: Record<string, Buffer | string>, type = 'data'): void {
  const dir = path.join(root, datasetId, `v${version}`);
  fs.mkdirSync(path.join(dir, type), { recursive: true });
  const metadata = {
    title: `${datasetId} version ${version}`,
    description: `Test dataset ${datasetId}`,
    upload_type: 'dataset',
    creators: [{ name: 'Tester, Test' }],
  };
  fs.writeFileSync(path.join(dir, 'dataset.json'), JSON.stringify(metadata));
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, type, name), data);
}
