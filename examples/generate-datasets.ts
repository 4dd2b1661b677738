// Writes the demo's sample datasets for the repository-copy pipeline, in the source layout
// `<dataset>/v<N>/dataset.json` + `<dataset>/v<N>/data/<files>`:
//   ds-0001 v1, v2, v3 — v2 drops stations.csv and adds calibration.csv, so its deposition
//     (a new version of v1's, which inherits v1's files) must lose a file and gain one;
//   ds-0002 v1 — holds a zero-length file, which the copy guard freezes before anything is
//     deposited.
// Deterministic and small (a few KB), so it is written at each demo run rather than committed.
//   npx tsx examples/generate-datasets.ts OUT_DIR
import fs from 'node:fs';
import path from 'node:path';

const CREATORS = [{ name: 'Lindqvist, Maria' }, { name: 'Hovland, Per' }];

/** A daily series for `days` days of 1931, values from a formula so two runs write the same bytes. */
function measurements(days: number, offset: number): string {
  const lines = ['date,station,temperature_c,rain_mm'];
  for (let d = 0; d < days; d++) {
    const date = new Date(Date.UTC(1931, 0, 1 + d)).toISOString().slice(0, 10);
    const temperature = (4 + 8 * Math.sin(((d - 100) / 365) * 2 * Math.PI) + offset).toFixed(1);
    const rain = ((d * 37 + offset * 11) % 23) / 2;
    lines.push(`${date},LHP,${temperature},${rain.toFixed(1)}`);
  }
  return `${lines.join('\n')}\n`;
}

interface Version {
  title: string;
  description: string;
  files: Record<string, string>;
}

const DATASETS: Record<string, Version[]> = {
  'ds-0001': [
    {
      title: 'Lighthouse Point weather, January–March 1931',
      description: 'Daily temperature and rainfall at Lighthouse Point Station, transcribed from the 1931 weather log.',
      files: {
        'measurements.csv': measurements(90, 0),
        'stations.csv': 'station,name,latitude,longitude\nLHP,Lighthouse Point,60.391,5.322\n',
        'README.txt': 'Transcribed from the station log. Temperatures in degrees Celsius, rainfall in millimetres.\n',
      },
    },
    {
      title: 'Lighthouse Point weather, January–June 1931',
      description: 'Daily temperature and rainfall at Lighthouse Point Station; the station list moved into the README, a calibration table added.',
      files: {
        'measurements.csv': measurements(181, 0),
        'calibration.csv': 'instrument,checked,correction_c\nthermometer-A,1931-01-02,-0.2\nthermometer-A,1931-04-01,-0.1\n',
        'README.txt': 'Transcribed from the station log (station LHP, Lighthouse Point, 60.391 N 5.322 E).\nTemperatures corrected per calibration.csv.\n',
      },
    },
    {
      title: 'Lighthouse Point weather, 1931',
      description: 'Daily temperature and rainfall at Lighthouse Point Station for the whole of 1931.',
      files: {
        'measurements.csv': measurements(365, 0),
        'calibration.csv': 'instrument,checked,correction_c\nthermometer-A,1931-01-02,-0.2\nthermometer-A,1931-04-01,-0.1\nthermometer-A,1931-10-01,0.0\n',
        'README.txt': 'Transcribed from the station log (station LHP, Lighthouse Point, 60.391 N 5.322 E).\nTemperatures corrected per calibration.csv.\n',
      },
    },
  ],
  'ds-0002': [
    {
      title: 'Harbour tide gauge readings, 1953',
      description: 'Hourly tide gauge readings around the flood of 1953; the notes file was exported empty.',
      files: {
        'readings.csv': 'time,level_cm\n1953-02-01T00:00,212\n1953-02-01T01:00,238\n1953-02-01T02:00,251\n',
        'notes.txt': '',
      },
    },
  ],
};

/** Writes every sample dataset under `outDir`, replacing what an earlier run left. Returns the dataset ids. */
export function generateDatasets(outDir: string): string[] {
  for (const [id, versions] of Object.entries(DATASETS)) {
    fs.rmSync(path.join(outDir, id), { recursive: true, force: true });
    versions.forEach((v, i) => {
      const dir = path.join(outDir, id, `v${i + 1}`);
      fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
      const metadata = { title: v.title, description: v.description, upload_type: 'dataset', creators: CREATORS };
      fs.writeFileSync(path.join(dir, 'dataset.json'), `${JSON.stringify(metadata, null, 2)}\n`);
      for (const [name, content] of Object.entries(v.files)) fs.writeFileSync(path.join(dir, 'data', name), content);
    });
  }
  return Object.keys(DATASETS);
}

if (require.main === module) {
  const [outDir] = process.argv.slice(2);
  if (!outDir) {
    console.error('usage: npx tsx examples/generate-datasets.ts OUT_DIR');
    process.exit(2);
  }
  const ids = generateDatasets(path.resolve(outDir));
  console.log(`wrote ${ids.join(', ')} under ${path.resolve(outDir)}`);
}
