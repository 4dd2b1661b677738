// Writes the demo collection under examples/collection: a dozen museum objects, one
// folder each, with object.json beside real files of the formats archives receive.
// Deterministic (seeded); the outputs are committed, so a clone does not need to run it.
//   npx tsx examples/generate-collection.ts [outDir]
import fs from 'node:fs';
import path from 'node:path';
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import type { z } from 'zod';
import { objectMetadataSchema } from '../common/object-metadata';
import { clamp, gif, jpg, mix, paint, png, rng, smooth, tiff, type Rgb } from './lib/images';

const OUT = path.resolve(process.argv[2] ?? path.join(__dirname, 'collection'));
const RIGHTS_PD = 'Public domain (CC0 1.0)';
const RIGHTS_BY = 'CC BY 4.0, Harbourtown City Museum';
const PUBLISHER = 'Harbourtown City Museum';
// Fixed so that two runs write byte-identical PDFs.
const PDF_DATE = new Date('2024-01-15T10:00:00Z');

type Files = Record<string, Buffer | string>;

function writeObject(meta: z.input<typeof objectMetadataSchema>, files: Files): void {
  const metadata = objectMetadataSchema.parse({ publisher: PUBLISHER, ...meta });
  const dir = path.join(OUT, metadata.id);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'object.json'), `${JSON.stringify(metadata, null, 2)}\n`);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

// ---------------------------------------------------------------- pictures

function harbourAtDawn(w: number, h: number) {
  const horizon = h * 0.58;
  const sun = { x: w * 0.63, y: horizon - h * 0.09, r: h * 0.06 };
  const hills = (x: number) => horizon - h * (0.05 + 0.04 * Math.sin((x / w) * 7.1) + 0.025 * Math.sin((x / w) * 17.3 + 1));
  return paint(w, h, (x, y) => {
    const d = Math.hypot(x - sun.x, y - sun.y);
    if (y < horizon) {
      const t = y / horizon;
      let c = mix(mix([38, 52, 110], [214, 120, 110], smooth(0, 0.8, t)), [250, 196, 120], smooth(0.7, 1, t));
      c = mix(c, [255, 236, 190], Math.exp(-d / (h * 0.18)) * 0.8);
      if (d < sun.r) c = mix([255, 246, 220], c, smooth(sun.r - 2, sun.r, d));
      if (y > hills(x)) c = mix([54, 40, 70], [88, 60, 84], (y - hills(x)) / (horizon - hills(x) + 1));
      return c;
    }
    const t = (y - horizon) / (h - horizon);
    let c = mix([172, 104, 104], [24, 36, 72], smooth(0, 1, t));
    // The sun's path on the water: broken bright stripes narrowing towards the horizon.
    const band = Math.abs(x - sun.x) / (w * (0.02 + 0.12 * t));
    const ripple = 0.5 + 0.5 * Math.sin(y * 0.9 + Math.sin(x * 0.05) * 3);
    c = mix(c, [255, 214, 150], clamp(1 - band, 0, 1) * ripple * 0.85);
    return c;
  });
}

function surveyMap(w: number, h: number) {
  const rand = rng(1887);
  const peaks = Array.from({ length: 7 }, () => ({ x: rand() * w, y: rand() * h, s: 60 + rand() * 120, a: 0.4 + rand() * 0.8 }));
  const height = (x: number, y: number) => peaks.reduce((acc, p) => acc + p.a * Math.exp(-((x - p.x) ** 2 + (y - p.y) ** 2) / (2 * p.s * p.s)), 0);
  return paint(w, h, (x, y) => {
    const paper: Rgb = [236 - 10 * Math.sin(x / 90) * Math.sin(y / 70), 222, 188];
    const e = height(x, y);
    let c = mix(paper, [214, 196, 150], clamp(e * 0.5, 0, 0.6));
    const contour = Math.abs(((e * 12) % 1) - 0.5);
    if (contour > 0.46) c = mix(c, [140, 90, 50], 0.8);
    const river = h * 0.55 + Math.sin(x / 60) * 40 + Math.sin(x / 23) * 9;
    if (Math.abs(y - river) < 3 + (x / w) * 4) c = [70, 110, 160];
    if (x % 100 === 0 || y % 100 === 0) c = mix(c, [120, 120, 120], 0.5);
    if (x < 6 || y < 6 || x >= w - 6 || y >= h - 6) c = [60, 50, 40];
    return c;
  });
}

function harebell(w: number, h: number) {
  const stem = (y: number) => w / 2 + Math.sin((y / h) * 3.2) * w * 0.08;
  const flowers = [
    { x: stem(h * 0.18) + 40, y: h * 0.2, r: 34 },
    { x: stem(h * 0.3) - 46, y: h * 0.3, r: 30 },
    { x: stem(h * 0.12) - 10, y: h * 0.1, r: 26 },
  ];
  return paint(w, h, (x, y) => {
    let c: Rgb = [244 - (y / h) * 12, 236 - (y / h) * 10, 214];
    // Stem and two branches.
    if (y > h * 0.12 && y < h * 0.92 && Math.abs(x - stem(y)) < 2.5) c = [76, 110, 60];
    for (const f of flowers) {
      const t = (y - f.y) / (h * 0.12);
      const bx = stem(f.y + h * 0.12) + (f.x - stem(f.y + h * 0.12)) * (1 - t);
      if (t > 0 && t < 1 && Math.abs(x - bx) < 1.8) c = [76, 110, 60];
      // Bell: an ellipse whose top is narrower than its mouth, with five lobes at the rim.
      const dy = (y - f.y) / f.r;
      const dx = (x - f.x) / (f.r * (0.55 + 0.35 * smooth(-1, 1, dy)));
      const rim = 1 + 0.08 * Math.cos(Math.atan2(dx, 1) * 10);
      if (dx * dx + dy * dy < rim) c = mix([112, 96, 196], [190, 178, 240], clamp(0.6 - dx * 0.5 - dy * 0.2, 0, 1));
    }
    // Leaves: thin ellipses along the stem's foot.
    for (let i = 0; i < 6; i++) {
      const ly = h * (0.62 + i * 0.05);
      const side = i % 2 ? 1 : -1;
      const lx = stem(ly) + side * 36;
      const a = side * 0.5;
      const u = ((x - lx) * Math.cos(a) + (y - ly) * Math.sin(a)) / 40;
      const v = (-(x - lx) * Math.sin(a) + (y - ly) * Math.cos(a)) / 8;
      if (u * u + v * v < 1) c = mix([70, 120, 64], [120, 160, 90], Math.abs(v));
    }
    // The collector's label in the lower right corner.
    if (x > w * 0.62 && x < w * 0.95 && y > h * 0.84 && y < h * 0.95) {
      c = [250, 248, 240];
      if ((y - Math.floor(h * 0.86)) % 9 === 0 && x > w * 0.64 && x < w * 0.93) c = [150, 150, 160];
    }
    return c;
  });
}

const textiles: Record<string, (x: number, y: number) => Rgb> = {
  tartan: (x, y) => {
    const stripe = (v: number) => [v % 64 < 24, v % 64 > 40 && v % 64 < 46, v % 16 < 2];
    const [a1, b1, c1] = stripe(x);
    const [a2, b2, c2] = stripe(y);
    let c: Rgb = [36, 60, 48];
    if (a1 || a2) c = mix(c, [24, 40, 90], a1 && a2 ? 0.9 : 0.5);
    if (b1 || b2) c = mix(c, [180, 40, 44], 0.7);
    if (c1 || c2) c = mix(c, [230, 210, 120], (x + y) % 2 ? 0.6 : 0.2);
    return c;
  },
  houndstooth: (x, y) => {
    const u = x % 32;
    const v = y % 32;
    const on = u < 16 !== v < 16 ? (u + v) % 16 < 8 : u < 16;
    return on ? [40, 36, 44] : [226, 220, 204];
  },
  waves: (x, y) => {
    const t = Math.sin(y / 9 + Math.sin(x / 21) * 2.2) * 0.5 + 0.5;
    return mix([200, 96, 60], [252, 226, 170], smooth(0.35, 0.65, t));
  },
  truchet: (() => {
    const rand = rng(6);
    const tiles = Array.from({ length: 64 }, () => rand() < 0.5);
    return (x: number, y: number): Rgb => {
      const s = 32;
      const flip = tiles[(((y / s) | 0) % 8) * 8 + (((x / s) | 0) % 8)];
      const u = x % s;
      const v = flip ? s - (y % s) : y % s;
      const d = Math.min(Math.abs(Math.hypot(u, v) - s / 2), Math.abs(Math.hypot(s - u, s - v) - s / 2));
      return d < 4 ? [28, 92, 110] : [238, 232, 214];
    };
  })(),
};

function ceramicBowl(w: number, h: number) {
  const cx = w / 2;
  const rimY = h * 0.42;
  const rx = w * 0.3;
  return paint(w, h, (x, y) => {
    let c = mix([70, 66, 62], [30, 28, 28], y / h);
    // Shadow on the table.
    const sd = ((x - cx) / (rx * 1.1)) ** 2 + ((y - h * 0.8) / (h * 0.05)) ** 2;
    if (sd < 1) c = mix(c, [12, 12, 12], 0.6 * (1 - sd));
    const u = (x - cx) / rx;
    const bodyBottom = rimY + h * 0.36 * Math.sqrt(Math.max(0, 1 - u * u));
    const rimHalf = h * 0.07 * Math.sqrt(Math.max(0, 1 - u * u));
    if (Math.abs(u) < 1 && y > rimY && y < bodyBottom) {
      const shade = 0.55 + 0.45 * Math.cos(u * 1.4 - 0.5);
      c = mix([60, 96, 80], [150, 196, 170], shade);
      const hl = Math.exp(-(((u + 0.35) * 6) ** 2) - ((y - rimY - h * 0.12) / (h * 0.1)) ** 2);
      c = mix(c, [240, 250, 240], hl * 0.8);
    }
    if (Math.abs(u) < 1 && Math.abs(y - rimY) < rimHalf) c = mix([96, 140, 118], [40, 60, 52], (y - rimY + rimHalf) / (2 * rimHalf + 1));
    return c;
  });
}

function crackleGlaze(w: number, h: number) {
  const rand = rng(1962);
  const pts = Array.from({ length: 90 }, () => [rand() * w, rand() * h]);
  return paint(w, h, (x, y) => {
    let d1 = Infinity;
    let d2 = Infinity;
    for (const [px, py] of pts) {
      const d = Math.hypot(x - px, y - py);
      if (d < d1) [d1, d2] = [d, d1];
      else if (d < d2) d2 = d;
    }
    const edge = smooth(0, 2.5, d2 - d1);
    return mix([70, 80, 72], mix([150, 196, 170], [176, 214, 190], (x + y) / (w + h)), edge);
  });
}

function floorPlan(w: number, h: number) {
  const walls = [
    [40, 40, w - 40, 48],
    [40, h - 48, w - 40, h - 40],
    [40, 40, 48, h - 40],
    [w - 48, 40, w - 40, h - 40],
    [300, 40, 306, 260],
    [300, 330, 306, h - 40],
    [40, 300, 220, 306],
    [270, 300, 560, 306],
    [560, 40, 566, 200],
    [560, 250, 566, h - 40],
  ];
  return paint(w, h, (x, y) => {
    if (walls.some(([x0, y0, x1, y1]) => x >= x0 && x < x1 && y >= y0 && y < y1)) return [20, 20, 20];
    const inside = x > 48 && x < w - 48 && y > 48 && y < h - 48;
    if (inside && (x % 20 === 0 || y % 20 === 0)) return [200, 200, 200];
    return inside ? [250, 250, 250] : [232, 232, 232];
  });
}

function ripples(w: number, h: number) {
  return paint(w, h, (x, y) => {
    const d = Math.hypot(x - w * 0.4, y - h * 0.35);
    const d2 = Math.hypot(x - w * 0.7, y - h * 0.7);
    const t = 0.5 + 0.25 * Math.sin(d / 9) * Math.exp(-d / 500) + 0.25 * Math.sin(d2 / 7) * Math.exp(-d2 / 400);
    return mix([18, 48, 96], [190, 226, 240], t);
  });
}

// The magic-lantern slide: a moon crossing a starry sky inside a round vignette,
// drawn straight into palette indices (0 black, 1–32 sky blues, 33–40 moon, 41 star).
function lanternSlideFrames(w: number, h: number, frames: number): { palette: Rgb[]; frames: Uint8Array[] } {
  const palette: Rgb[] = [[0, 0, 0]];
  for (let i = 0; i < 32; i++) palette.push(mix([10, 14, 40], [60, 80, 150], i / 31));
  for (let i = 0; i < 8; i++) palette.push(mix([200, 190, 140], [255, 250, 220], i / 7));
  palette.push([255, 255, 255]);
  const rand = rng(1899);
  const stars = Array.from({ length: 40 }, () => [Math.floor(rand() * w), Math.floor(rand() * h)]);
  const out: Uint8Array[] = [];
  for (let f = 0; f < frames; f++) {
    const px = new Uint8Array(w * h);
    const moon = { x: w * (0.2 + 0.6 * (f / (frames - 1))), y: h * (0.45 - 0.15 * Math.sin(Math.PI * (f / (frames - 1)))), r: h * 0.12 };
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = Math.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2));
        if (v > 0.96) continue;
        let idx = 1 + Math.round(31 * (1 - y / h) * (1 - v * 0.6));
        const d = Math.hypot(x - moon.x, y - moon.y);
        if (d < moon.r) idx = 33 + Math.round(7 * (1 - d / moon.r));
        px[y * w + x] = idx;
      }
    }
    for (const [sx, sy] of stars) {
      const twinkle = (sx + sy + f) % 3 !== 0;
      if (twinkle && Math.hypot((sx - w / 2) / (w / 2), (sy - h / 2) / (h / 2)) < 0.9 && px[sy * w + sx] < 33) px[sy * w + sx] = 41;
    }
    out.push(px);
  }
  return { palette, frames: out };
}

// ---------------------------------------------------------------- documents

async function pdf(title: string, pages: Array<{ heading?: string; paragraphs: string[] }>, author: string): Promise<Buffer> {
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.setTitle(title);
  doc.setAuthor(author);
  doc.setCreator('custody demo generator');
  doc.setProducer('pdf-lib');
  doc.setCreationDate(PDF_DATE);
  doc.setModificationDate(PDF_DATE);
  const serif = await doc.embedFont(StandardFonts.TimesRoman);
  const bold = await doc.embedFont(StandardFonts.TimesRomanBold);
  for (const p of pages) {
    const page = doc.addPage([595.28, 841.89]);
    let y = 770;
    if (p.heading) {
      page.drawText(p.heading, { x: 72, y, size: 18, font: bold, color: rgb(0.12, 0.16, 0.3) });
      y -= 36;
    }
    for (const para of p.paragraphs) {
      y = drawWrapped(page, para, serif, 11.5, 72, y, 451) - 10;
    }
    page.drawText(`${title}`, { x: 72, y: 40, size: 8, font: serif, color: rgb(0.45, 0.45, 0.45) });
  }
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

function drawWrapped(page: PDFPage, text: string, font: PDFFont, size: number, x: number, y: number, width: number): number {
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (font.widthOfTextAtSize(next, size) > width && line) {
      page.drawText(line, { x, y, size, font });
      y -= size * 1.45;
      line = word;
    } else {
      line = next;
    }
  }
  if (line) page.drawText(line, { x, y, size, font });
  return y - size * 1.45;
}

function accessionRegister(): string {
  const rand = rng(1920);
  const kinds = ['Photograph', 'Ceramic vessel', 'Textile fragment', 'Map', 'Letter', 'Coin', 'Tool', 'Ship model', 'Painting', 'Fishing net'];
  const donors = ['J. Halvorsen', 'Estate of A. Brandt', 'Harbour Board', 'M. Lindqvist', 'Anonymous', 'St. Olaf Parish', 'R. Okafor', 'E. Takahashi'];
  const rows = ['accession_number,date_received,description,donor,condition,location'];
  for (let i = 1; i <= 80; i++) {
    const year = 1920 + Math.floor((i - 1) / 16);
    const month = 1 + Math.floor(rand() * 12);
    const day = 1 + Math.floor(rand() * 28);
    const kind = kinds[Math.floor(rand() * kinds.length)];
    const donor = donors[Math.floor(rand() * donors.length)];
    const condition = ['good', 'fair', 'poor', 'excellent'][Math.floor(rand() * 4)];
    const desc = `"${kind}, ${['harbour', 'fishing', 'domestic', 'parish', 'trade'][Math.floor(rand() * 5)]} use"`;
    const date = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
    rows.push(
      `${year}.${String(i).padStart(3, '0')},${date},${desc},${donor},${condition},Store ${1 + Math.floor(rand() * 4)}/Shelf ${1 + Math.floor(rand() * 20)}`,
    );
  }
  return `${rows.join('\n')}\n`;
}

function weatherLog(): string {
  const rand = rng(1931);
  const rows = ['date,temperature_c,pressure_hpa,wind_direction,wind_force_beaufort,observer'];
  const start = Date.UTC(1931, 0, 1);
  for (let d = 0; d < 365; d++) {
    const date = new Date(start + d * 86_400_000).toISOString().slice(0, 10);
    const temp = 7.5 - 8 * Math.cos((2 * Math.PI * (d - 15)) / 365) + (rand() - 0.5) * 5;
    const pressure = 1013 + Math.sin(d / 5.3) * 12 + (rand() - 0.5) * 6;
    const dir = ['N', 'NE', 'E', 'SE', 'S', 'SW', 'W', 'NW'][Math.floor(rand() * 8)];
    const force = Math.min(11, Math.floor(rand() * rand() * 10 + (d % 61 < 4 ? 5 : 1)));
    rows.push(`${date},${temp.toFixed(1)},${pressure.toFixed(1)},${dir},${force},${d % 7 < 5 ? 'H. Nilsen' : 'K. Nilsen'}`);
  }
  return `${rows.join('\n')}\n`;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const herbariumRecord = `<?xml version="1.0" encoding="UTF-8"?>
<SimpleDarwinRecordSet xmlns="http://rs.tdwg.org/dwc/xsd/simpledarwincore/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dwc="http://rs.tdwg.org/dwc/terms/">
  <SimpleDarwinRecord>
    <dc:type>PreservedSpecimen</dc:type>
    <dwc:institutionCode>HCM</dwc:institutionCode>
    <dwc:catalogNumber>HCM-HERB-00412</dwc:catalogNumber>
    <dwc:scientificName>Campanula rotundifolia L.</dwc:scientificName>
    <dwc:vernacularName>Harebell</dwc:vernacularName>
    <dwc:family>Campanulaceae</dwc:family>
    <dwc:recordedBy>Ingrid Solberg</dwc:recordedBy>
    <dwc:eventDate>1934-07-21</dwc:eventDate>
    <dwc:locality>Dry grassland above the lighthouse, Lighthouse Point</dwc:locality>
    <dwc:decimalLatitude>58.9412</dwc:decimalLatitude>
    <dwc:decimalLongitude>5.7231</dwc:decimalLongitude>
    <dwc:habitat>Shallow soil over rock, south-facing</dwc:habitat>
  </SimpleDarwinRecord>
</SimpleDarwinRecordSet>
`;

const interview: Array<[string, string]> = [
  ['INT', 'Could you tell us where you were on the night of the flood?'],
  [
    'AH',
    "We lived on Quay Street then, above my father's chandlery. I was nine. I remember the sound more than anything: the wind in the rigging of every boat in the harbour, like an organ.",
  ],
  ['INT', 'When did you realise the water was coming in?'],
  [
    'AH',
    'My mother woke us at about two. There was water under the shop door, and then it was over the counter. We carried the account books upstairs first; my father said the books were the shop.',
  ],
  ['INT', 'What happened in the morning?'],
  [
    'AH',
    'The street was a canal. The lifeboat crew came along in a rowing boat and took the old people from the almshouses. Nobody on our street was lost, but two boats were never found.',
  ],
  ['INT', 'How did the town remember it afterwards?'],
  [
    'AH',
    'Every February the church rang the bell at two in the morning, for years. And the new sea wall, of course. My father gave the museum his tide book from that winter.',
  ],
];

const interviewTei = `<?xml version="1.0" encoding="UTF-8"?>
<TEI xmlns="http://www.tei-c.org/ns/1.0">
  <teiHeader>
    <fileDesc>
      <titleStmt><title>Oral history interview: The Flood of 1953</title></titleStmt>
      <publicationStmt><p>${PUBLISHER}. ${RIGHTS_BY}.</p></publicationStmt>
      <sourceDesc><recordingStmt><recording type="audio" dur="PT41M"><date when="1998-03-12"/></recording></recordingStmt></sourceDesc>
    </fileDesc>
    <profileDesc>
      <particDesc>
        <person xml:id="AH"><persName>Astrid Hovland</persName><birth when="1944"/></person>
        <person xml:id="INT"><persName>Daniel Moreau</persName><occupation>curator</occupation></person>
      </particDesc>
    </profileDesc>
  </teiHeader>
  <text><body><div type="transcript">
${interview.map(([who, said]) => `    <u who="#${who}">${xmlEscape(said)}</u>`).join('\n')}
  </div></body></text>
</TEI>
`;

const interviewTxt = `Oral history interview: The Flood of 1953
Interviewee: Astrid Hovland (b. 1944). Interviewer: Daniel Moreau. Recorded 12 March 1998.

${interview.map(([who, said]) => `${who === 'INT' ? 'Interviewer' : 'Astrid Hovland'}: ${said}`).join('\n\n')}
`;

const letterText = [
  'Harbourtown, 3 October 1912',
  'To the Board of the Harbourtown City Museum,',
  'Gentlemen, I write to offer to the Museum the collection of survey drawings and harbour views made by my late husband, Carl Lindqvist, during his years as engineer to the Harbour Board. The collection comprises forty-two drawings, eleven maps of the lower valley and a bound volume of tide observations kept between 1881 and 1897.',
  'It was my husband\u2019s wish that these papers be kept together and made available to anyone with an interest in the history of the harbour and its works. I ask only that they be stored dry, away from the light, and that his name be recorded with them.',
  'I should be glad to receive a member of the Board at my house on Chapel Row on any weekday afternoon, so that the drawings may be examined before the Board makes its decision.',
  'I remain, Gentlemen, yours faithfully,',
  'Maria Lindqvist',
];

const conditionReport = `CONDITION REPORT
Object: Ceramic bowl, celadon-glazed stoneware (HCM 1962.118)
Examined: 2023-11-08 by L. Ferreira, conservator

Overall condition: good, stable.
Body: no cracks or losses. Small firing flaw (3 mm pit) on the foot ring, original.
Glaze: even crackle over the whole surface, consistent with the glaze type; no crazing
  beyond the intended crackle; slight soiling in the crackle near the rim.
Recommendations: dry surface clean with soft brush; handle with nitrile gloves;
  display at 40-55 % RH. No treatment needed.
`;

const mapTranscription = `Transcription of the cartouche and legend
Survey Map of the Lower Valley, surveyed by C. Lindqvist for the Harbour Board, 1887.
Scale: one inch to four hundred feet. Contours at ten feet.
Legend: brown lines, contours; blue, the River Aske and its mill leat; grey grid, survey squares of 400 ft.
`;

// ---------------------------------------------------------------- the objects

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });

  writeObject(
    {
      id: 'mus-0001',
      title: 'Harbour at Dawn',
      creators: ['Elise Marten'],
      dates: ['1908'],
      modifiedAt: '2024-02-12T09:15:00Z',
      rights: RIGHTS_PD,
      description: 'Oil on canvas, 61 x 92 cm. The harbour mouth seen from the west pier at sunrise; digitised 2023.',
      subjects: ['harbours', 'seascapes', 'sunrise', 'oil paintings'],
      type: 'StillImage',
      language: 'zxx',
      identifiers: ['HCM 1931.004'],
    },
    { 'harbour-at-dawn.jpg': jpg(harbourAtDawn(2000, 1286), 88) },
  );

  writeObject(
    {
      id: 'mus-0002',
      title: 'Survey Map of the Lower Valley',
      creators: ['Carl Lindqvist'],
      dates: ['1887'],
      modifiedAt: '2024-03-04T14:02:00Z',
      rights: RIGHTS_PD,
      description:
        'Ink and wash on paper. Contour survey of the lower valley of the River Aske for the harbour works. Master scan (uncompressed TIFF) with a transcription of the legend.',
      subjects: ['maps', 'surveying', 'River Aske'],
      type: 'StillImage',
      language: 'en',
      identifiers: ['HCM 1912.031'],
    },
    { 'master/survey-map-1887.tif': tiff(surveyMap(800, 600), { dpi: 400 }), 'transcription.txt': mapTranscription },
  );

  writeObject(
    {
      id: 'mus-0003',
      title: 'Letter from Maria Lindqvist to the Museum Board',
      creators: ['Maria Lindqvist'],
      dates: ['1912-10-03'],
      modifiedAt: '2024-01-20T11:40:00Z',
      rights: RIGHTS_PD,
      description: 'Autograph letter offering the survey drawings of Carl Lindqvist to the museum. Typed transcription as PDF and plain text.',
      subjects: ['donations', 'correspondence', 'Lindqvist family'],
      type: 'Text',
      language: 'en',
      identifiers: ['HCM ARCH 1912/17'],
    },
    {
      'letter-1912-10-03.pdf': await pdf('Letter from Maria Lindqvist, 3 October 1912', [{ paragraphs: letterText }], 'Maria Lindqvist'),
      'letter-1912-10-03.txt': `${letterText.join('\n\n')}\n`,
    },
  );

  writeObject(
    {
      id: 'mus-0004',
      title: 'Accession Register 1920-1924',
      creators: ['Harbourtown City Museum'],
      dates: ['1920/1924'],
      modifiedAt: '2024-05-30T08:00:00Z',
      rights: RIGHTS_BY,
      description: 'The museum\u2019s accession register for 1920 to 1924, keyed as a table: one row per accession.',
      subjects: ['museum records', 'accessions'],
      type: 'Dataset',
      language: 'en',
      identifiers: ['HCM ARCH REG/3'],
    },
    { 'accession-register-1920-1924.csv': accessionRegister() },
  );

  writeObject(
    {
      id: 'mus-0005',
      title: 'Herbarium Sheet: Campanula rotundifolia (Harebell)',
      creators: ['Ingrid Solberg'],
      dates: ['1934-07-21'],
      modifiedAt: '2024-04-18T16:25:00Z',
      rights: RIGHTS_BY,
      description: 'Pressed specimen of harebell collected above the lighthouse. Scan of the sheet and its Darwin Core record.',
      subjects: ['botany', 'herbaria', 'Campanulaceae'],
      type: 'PhysicalObject',
      language: 'en',
      identifiers: ['HCM-HERB-00412'],
    },
    { 'sheet.png': png(harebell(420, 600)), 'record.xml': herbariumRecord },
  );

  const swatches: Files = {};
  for (const [name, pattern] of Object.entries(textiles)) swatches[`swatches/${name}.png`] = png(paint(256, 256, pattern));
  writeObject(
    {
      id: 'mus-0006',
      title: 'Textile Sample Book, Pattern Nos. 1-4',
      creators: ['Aske Valley Weaving Mill'],
      dates: ['c. 1925'],
      modifiedAt: '2024-06-02T10:10:00Z',
      rights: RIGHTS_PD,
      description: 'Four woven swatches from a salesman\u2019s sample book: tartan, houndstooth, wave and quarter-circle patterns.',
      subjects: ['textiles', 'weaving', 'pattern books'],
      type: 'StillImage',
      language: 'zxx',
      identifiers: ['HCM 1977.220'],
    },
    swatches,
  );

  const slide = lanternSlideFrames(240, 180, 6);
  writeObject(
    {
      id: 'mus-0007',
      title: 'Magic Lantern Slide: Moonrise over the Bay',
      creators: ['Unknown maker'],
      dates: ['c. 1899'],
      modifiedAt: '2024-06-11T13:45:00Z',
      rights: RIGHTS_PD,
      description:
        'Hand-painted mechanical lantern slide in which the moon crosses the sky. A 2009 animated GIF made for the web site shows the movement; the photograph of the slide in its wooden frame is a JPEG.',
      subjects: ['magic lanterns', 'optical toys', 'moon'],
      type: 'StillImage',
      language: 'zxx',
      identifiers: ['HCM 1955.061'],
    },
    {
      'moonrise-animation.gif': gif(240, 180, slide.palette, slide.frames, 40),
      'slide-photograph.jpg': jpg(
        paint(480, 360, (x, y) => {
          const inFrame = x > 40 && x < 440 && y > 30 && y < 330;
          const wood: Rgb = mix([120, 78, 40], [160, 110, 60], 0.5 + 0.5 * Math.sin(y / 3 + Math.sin(x / 40) * 2));
          if (!inFrame) return mix([230, 228, 222], [200, 198, 190], y / 360);
          const v = Math.hypot((x - 240) / 150, (y - 180) / 120);
          if (v >= 1) return wood;
          const moon = Math.hypot(x - 300, y - 140);
          return moon < 26 ? mix([255, 248, 215], [210, 198, 150], moon / 26) : mix([24, 30, 70], [70, 90, 150], 1 - y / 360);
        }),
        85,
      ),
    },
  );

  writeObject(
    {
      id: 'mus-0008',
      title: 'Oral History Interview: The Flood of 1953',
      creators: ['Astrid Hovland', 'Daniel Moreau'],
      dates: ['1998-03-12'],
      modifiedAt: '2024-02-28T15:30:00Z',
      rights: RIGHTS_BY,
      description: 'Transcript of a recorded interview about the storm flood of February 1953, as TEI XML and plain text.',
      subjects: ['floods', 'oral history', 'Quay Street'],
      type: 'Text',
      language: 'en',
      identifiers: ['HCM OH 1998/04'],
    },
    { 'transcript/hovland-1998.xml': interviewTei, 'transcript/hovland-1998.txt': interviewTxt },
  );

  writeObject(
    {
      id: 'mus-0009',
      title: 'Exhibition Catalogue: Light and Water',
      creators: ['Harbourtown City Museum', 'Ruth Okafor'],
      dates: ['1965'],
      modifiedAt: '2024-07-01T09:00:00Z',
      rights: RIGHTS_BY,
      description: 'Catalogue of the 1965 exhibition of harbour paintings and photographs, with its cover.',
      subjects: ['exhibition catalogues', 'harbours', 'painting'],
      type: 'Text',
      language: 'en',
      publisher: PUBLISHER,
      identifiers: ['HCM LIB 0651'],
    },
    {
      'catalogue.pdf': await pdf(
        'Light and Water (1965)',
        [
          {
            heading: 'Light and Water',
            paragraphs: ['Paintings and photographs of the harbour, 1880-1960.', 'Harbourtown City Museum, 2 June - 30 September 1965.'],
          },
          {
            heading: 'Foreword',
            paragraphs: [
              'The harbour has been painted more often than any other view in the town. This exhibition brings together forty works from the museum\u2019s collection and from private lenders, from Elise Marten\u2019s dawn scenes to the photographs of the 1953 flood.',
              'We thank the lenders, the Harbour Board, and the volunteers who catalogued the photographic collection in the winter of 1964.',
            ],
          },
          {
            heading: 'List of works (selection)',
            paragraphs: [
              '1. Elise Marten, Harbour at Dawn, 1908, oil on canvas.',
              '2. Carl Lindqvist, Survey Map of the Lower Valley, 1887, ink and wash.',
              '3. Anonymous, Moonrise over the Bay, c. 1899, lantern slide.',
              '4. Harbour Board photographer, Quay Street after the flood, 1953, gelatin silver print.',
            ],
          },
        ],
        'Ruth Okafor',
      ),
      'cover.jpg': jpg(ripples(600, 800), 84),
    },
  );

  writeObject(
    {
      id: 'mus-0010',
      title: 'Weather Log, Lighthouse Point Station, 1931',
      creators: ['Henrik Nilsen', 'Kari Nilsen'],
      dates: ['1931'],
      modifiedAt: '2024-03-22T12:12:00Z',
      rights: RIGHTS_PD,
      description: 'Daily readings of the lighthouse keepers for 1931, keyed from the log book: temperature, pressure, wind.',
      subjects: ['meteorology', 'lighthouses'],
      type: 'Dataset',
      language: 'en',
      identifiers: ['HCM ARCH LH/1931'],
    },
    {
      'weather-1931.csv': weatherLog(),
      'README.txt': 'Columns: date (ISO), temperature_c (noon), pressure_hpa (noon), wind_direction, wind_force_beaufort, observer.\n',
    },
  );

  writeObject(
    {
      id: 'mus-0011',
      title: 'Ceramic Bowl, Celadon-Glazed Stoneware',
      creators: ['Aino Virtanen'],
      dates: ['1962'],
      modifiedAt: '2024-08-05T10:30:00Z',
      rights: RIGHTS_BY,
      description: 'Stoneware bowl with a crackled celadon glaze, diameter 21 cm. Object photograph, glaze detail and condition report.',
      subjects: ['ceramics', 'stoneware', 'studio pottery'],
      type: 'PhysicalObject',
      language: 'en',
      identifiers: ['HCM 1962.118'],
    },
    {
      'images/bowl.jpg': jpg(ceramicBowl(900, 700), 88),
      'images/glaze-detail.png': png(crackleGlaze(320, 320)),
      'condition-report.txt': conditionReport,
    },
  );

  writeObject(
    {
      id: 'mus-0012',
      title: 'Museum Building, Ground Floor Plan',
      creators: ['Borg & Lund Architects'],
      dates: ['1958'],
      modifiedAt: '2024-09-09T09:09:00Z',
      rights: RIGHTS_BY,
      description: 'Architect\u2019s plan of the ground floor of the museum building after the 1958 extension; greyscale master scan.',
      subjects: ['architecture', 'floor plans', 'museum buildings'],
      type: 'StillImage',
      language: 'zxx',
      identifiers: ['HCM ARCH PLAN/58-1'],
    },
    { 'floor-plan-1958.tif': tiff(floorPlan(800, 560), { grey: true, dpi: 300 }) },
  );

  console.log(`wrote the demo collection to ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
