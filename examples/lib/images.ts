// Small raster helpers for the demo-collection generator: paint pixels with a function,
// then encode with a well-kept library (PNG, JPEG, GIF) or, for TIFF, by hand — an
// uncompressed baseline TIFF is a few dozen lines and needs no dependency.
import { GifWriter } from 'omggif';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export type Rgb = [number, number, number];

export interface Raster {
  width: number;
  height: number;
  /** RGBA, 4 bytes a pixel. */
  data: Buffer;
}

/** Seeded PRNG (mulberry32): the same seed always paints the same picture. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const clamp = (v: number, lo = 0, hi = 255): number => Math.min(hi, Math.max(lo, v));
export const mix = (a: Rgb, b: Rgb, t: number): Rgb => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
export const smooth = (e0: number, e1: number, x: number): number => {
  const t = clamp((x - e0) / (e1 - e0), 0, 1);
  return t * t * (3 - 2 * t);
};

export function paint(width: number, height: number, pixel: (x: number, y: number) => Rgb): Raster {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const i = (y * width + x) * 4;
      data[i] = clamp(Math.round(r));
      data[i + 1] = clamp(Math.round(g));
      data[i + 2] = clamp(Math.round(b));
      data[i + 3] = 255;
    }
  }
  return { width, height, data };
}

export function png(r: Raster): Buffer {
  const img = new PNG({ width: r.width, height: r.height });
  r.data.copy(img.data);
  return PNG.sync.write(img, { colorType: 2 });
}

export function jpg(r: Raster, quality = 86): Buffer {
  return jpeg.encode({ width: r.width, height: r.height, data: r.data }, quality).data;
}

/** Baseline TIFF 6.0, uncompressed, RGB or 8-bit grey, in strips of about 8 KB. */
export function tiff(r: Raster, opts: { grey?: boolean; dpi?: number; software?: string } = {}): Buffer {
  const spp = opts.grey ? 1 : 3;
  const rowBytes = r.width * spp;
  const rowsPerStrip = Math.max(1, Math.floor(8192 / rowBytes));
  const strips = Math.ceil(r.height / rowsPerStrip);
  const software = Buffer.from(`${opts.software ?? 'custody demo generator'}\0`, 'latin1');
  const dpi = opts.dpi ?? 300;

  type Entry = { tag: number; type: 2 | 3 | 4 | 5; count: number; value?: number; data?: Buffer };
  const longs = (values: number[]) => {
    const b = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => b.writeUInt32LE(v, i * 4));
    return b;
  };
  const rational = (n: number, d: number) => longs([n, d]);
  const stripCounts = Array.from({ length: strips }, (_, i) => Math.min(rowsPerStrip, r.height - i * rowsPerStrip) * rowBytes);

  const entryCount = 14;
  const ifdSize = 2 + entryCount * 12 + 4;
  let cursor = 8 + ifdSize;
  const extra: Buffer[] = [];
  const place = (b: Buffer): number => {
    const at = cursor;
    const padded = b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b;
    extra.push(padded);
    cursor += padded.length;
    return at;
  };
  const bps = Buffer.alloc(6);
  [8, 8, 8].forEach((v, i) => bps.writeUInt16LE(v, i * 2));
  const bpsAt = opts.grey ? undefined : place(bps);
  const xresAt = place(rational(dpi, 1));
  const yresAt = place(rational(dpi, 1));
  const softwareAt = place(software);
  // Offsets are known once the counts array is placed, so reserve both arrays first.
  const offsetsAt = strips > 1 ? place(Buffer.alloc(strips * 4)) : undefined;
  const countsAt = strips > 1 ? place(longs(stripCounts)) : undefined;
  const imageAt = cursor;
  const stripOffsets = stripCounts.map((_, i) => imageAt + i * rowsPerStrip * rowBytes);
  if (offsetsAt !== undefined) longs(stripOffsets).copy(extra[extra.length - 2]);

  const entries: Entry[] = [
    { tag: 256, type: 4, count: 1, value: r.width },
    { tag: 257, type: 4, count: 1, value: r.height },
    opts.grey ? { tag: 258, type: 3, count: 1, value: 8 } : { tag: 258, type: 3, count: 3, value: bpsAt },
    { tag: 259, type: 3, count: 1, value: 1 },
    { tag: 262, type: 3, count: 1, value: opts.grey ? 1 : 2 },
    { tag: 273, type: 4, count: strips, value: offsetsAt ?? stripOffsets[0] },
    { tag: 277, type: 3, count: 1, value: spp },
    { tag: 278, type: 4, count: 1, value: rowsPerStrip },
    { tag: 279, type: 4, count: strips, value: countsAt ?? stripCounts[0] },
    { tag: 282, type: 5, count: 1, value: xresAt },
    { tag: 283, type: 5, count: 1, value: yresAt },
    { tag: 284, type: 3, count: 1, value: 1 },
    { tag: 296, type: 3, count: 1, value: 2 },
    { tag: 305, type: 2, count: software.length, value: softwareAt },
  ];
  if (entries.length !== entryCount) throw new Error('TIFF entry count mismatch');

  const head = Buffer.alloc(8 + ifdSize);
  head.write('II', 0, 'latin1');
  head.writeUInt16LE(42, 2);
  head.writeUInt32LE(8, 4);
  head.writeUInt16LE(entries.length, 8);
  entries.forEach((e, i) => {
    const o = 10 + i * 12;
    head.writeUInt16LE(e.tag, o);
    head.writeUInt16LE(e.type, o + 2);
    head.writeUInt32LE(e.count, o + 4);
    // A SHORT that fits in the value field sits in its first two bytes.
    if (e.type === 3 && e.count === 1) head.writeUInt16LE(e.value ?? 0, o + 8);
    else head.writeUInt32LE(e.value ?? 0, o + 8);
  });
  head.writeUInt32LE(0, 10 + entries.length * 12);

  const pixels = Buffer.alloc(r.width * r.height * spp);
  for (let p = 0; p < r.width * r.height; p++) {
    const [red, green, blue] = [r.data[p * 4], r.data[p * 4 + 1], r.data[p * 4 + 2]];
    if (opts.grey) pixels[p] = Math.round(0.299 * red + 0.587 * green + 0.114 * blue);
    else pixels.set([red, green, blue], p * 3);
  }
  return Buffer.concat([head, ...extra, pixels]);
}

/** An animated GIF from frames that share one palette (at most 256 colours, given as RGB). */
export function gif(width: number, height: number, palette: Rgb[], frames: Uint8Array[], delayCs: number): Buffer {
  let size = 2;
  while (size < palette.length) size *= 2;
  const flat = Array.from({ length: size }, (_, i) => {
    const [r, g, b] = palette[i] ?? [0, 0, 0];
    return (r << 16) | (g << 8) | b;
  });
  const buf = Buffer.alloc(1024 + frames.length * width * height * 2);
  const writer = new GifWriter(buf, width, height, { palette: flat, loop: 0 });
  for (const f of frames) writer.addFrame(0, 0, width, height, Array.from(f), { delay: delayCs });
  return buf.subarray(0, writer.end());
}
