// Web derivatives of an article's figures. Packages carry print masters (TIFFs of tens of MB,
// CMYK or Adobe RGB, sometimes several pages); a browser wants an sRGB JPEG or WebP of bounded
// width. libvips streams the image through in strips (sequentialRead), and the pixel count is
// checked from the header before decoding, so a decompression bomb in TIFF form is refused
// before it takes memory.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { stripExtension } from './asset-refs';
import type { ValidatedArticle } from './jats';

export type WebFormat = 'jpeg' | 'webp';

export interface WebFigureOptions {
  /** Derivatives are at most this wide; smaller figures keep their size. */
  maxWidth?: number;
  /** …and at most this tall (tall multi-panel figures). */
  maxHeight?: number;
  formats?: WebFormat[];
  jpegQuality?: number;
  webpQuality?: number;
  /** Figures with more pixels (width × height) are refused before they are decoded. */
  limitInputPixels?: number;
}

export const DEFAULT_WEB_FIGURE_OPTIONS: Readonly<Required<WebFigureOptions>> = Object.freeze({
  maxWidth: 1500,
  maxHeight: 3000,
  formats: ['jpeg'] as WebFormat[],
  jpegQuality: 85,
  webpQuality: 80,
  // 100 megapixels: a 600 dpi A3 scan is about 70; sharp's own default (268 MP) is more than a worker should decode.
  limitInputPixels: 100_000_000,
});

export interface WebFigure {
  /** Relative to the output folder: the figure's package path with the format's extension. */
  path: string;
  /** The package file it was made from. */
  derivedFrom: string;
  format: WebFormat;
  mediaType: string;
  width: number;
  height: number;
  size: number;
  sha256: string;
}

export type WebFigureFailureKind = 'not-a-raster' | 'unreadable-image' | 'too-many-pixels' | 'name-clash';

export class WebFigureFailed extends Error {
  override readonly name = 'WebFigureFailed';
  constructor(
    readonly kind: WebFigureFailureKind,
    readonly file: string,
    detail: string,
  ) {
    super(`Figure ${file}: ${detail}`);
  }
}

const RASTER_EXTENSIONS = new Set(['tif', 'tiff', 'png', 'jpg', 'jpeg', 'gif', 'webp']);

/** Whether a package file is a raster image a web derivative can be made from (EPS and PDF figures are not). */
export function isRasterFigure(file: string): boolean {
  return RASTER_EXTENSIONS.has(file.slice(stripExtension(file).length + 1).toLowerCase());
}

// A figure supplied in several formats gets one derivative, from the best master.
const MASTER_PREFERENCE = ['tif', 'tiff', 'png', 'jpg', 'jpeg', 'webp', 'gif'];

/**
 * The package files to make web derivatives of: those the XML references as figures
 * (<graphic>, <inline-graphic>) in a raster format, one per figure.
 */
export function figuresToDerive(article: ValidatedArticle): string[] {
  const chosen: string[] = [];
  for (const reference of article.references) {
    if (reference.role !== 'figure') continue;
    const rasters = reference.files.filter(isRasterFigure);
    const rank = (f: string) => MASTER_PREFERENCE.indexOf(f.slice(stripExtension(f).length + 1).toLowerCase());
    const best = [...rasters].sort((a, b) => rank(a) - rank(b))[0];
    if (best !== undefined && !chosen.includes(best)) chosen.push(best);
  }
  return chosen;
}

const EXTENSION: Record<WebFormat, string> = { jpeg: 'jpg', webp: 'webp' };
const MEDIA_TYPE: Record<WebFormat, string> = { jpeg: 'image/jpeg', webp: 'image/webp' };

/**
 * Makes the derivatives of `figures` (package paths, relative to `packageDir`) in `outDir`.
 * Each is written under a temporary name and renamed, so a crash leaves no half file behind
 * and a re-run overwrites the same names with the same bytes.
 */
export async function makeWebFigures(packageDir: string, figures: readonly string[], outDir: string, options: WebFigureOptions = {}): Promise<WebFigure[]> {
  const sources = new Map<string, string>();
  for (const figure of figures) {
    const other = sources.get(stripExtension(figure));
    if (other !== undefined) throw new WebFigureFailed('name-clash', figure, `its derivative would have the same name as that of ${other}`);
    sources.set(stripExtension(figure), figure);
  }
  const made: WebFigure[] = [];
  for (const figure of figures) made.push(...(await makeWebFigure(packageDir, figure, outDir, options)));
  return made;
}

export async function makeWebFigure(packageDir: string, figure: string, outDir: string, options: WebFigureOptions = {}): Promise<WebFigure[]> {
  const o = { ...DEFAULT_WEB_FIGURE_OPTIONS, ...definedOnly(options) };
  if (!isRasterFigure(figure)) throw new WebFigureFailed('not-a-raster', figure, `not one of the raster formats ${[...RASTER_EXTENSIONS].join(', ')}`);
  const input = path.join(packageDir, ...figure.split('/'));

  let width: number | undefined;
  let height: number | undefined;
  try {
    ({ width, height } = await sharp(input, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw new WebFigureFailed('unreadable-image', figure, (err as Error).message);
  }
  if (!width || !height) throw new WebFigureFailed('unreadable-image', figure, 'no dimensions in the image header');
  if (width * height > o.limitInputPixels) {
    throw new WebFigureFailed('too-many-pixels', figure, `${width}×${height} is ${width * height} pixels; the limit is ${o.limitInputPixels}`);
  }

  const made: WebFigure[] = [];
  for (const format of o.formats) {
    const relative = `${stripExtension(figure)}.${EXTENSION[format]}`;
    const output = path.join(outDir, ...relative.split('/'));
    await fs.promises.mkdir(path.dirname(output), { recursive: true });
    const partial = `${output}.partial`;
    // The first page of a multi-page TIFF is the figure; the others are thumbnails or layers.
    let image = sharp(input, { limitInputPixels: o.limitInputPixels, sequentialRead: true, failOn: 'error', page: 0 })
      .autoOrient()
      .resize({ width: o.maxWidth, height: o.maxHeight, fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb');
    // JPEG has no alpha: transparent areas would turn black without a white background.
    image =
      format === 'jpeg' ? image.flatten({ background: '#ffffff' }).jpeg({ quality: o.jpegQuality, progressive: true }) : image.webp({ quality: o.webpQuality });
    let info: sharp.OutputInfo;
    try {
      info = await image.toFile(partial);
    } catch (err) {
      await fs.promises.rm(partial, { force: true });
      const message = (err as Error).message;
      throw new WebFigureFailed(/pixel limit/i.test(message) ? 'too-many-pixels' : 'unreadable-image', figure, message);
    }
    const sha256 = await fileSha256(partial);
    await fs.promises.rename(partial, output);
    made.push({ path: relative, derivedFrom: figure, format, mediaType: MEDIA_TYPE[format], width: info.width, height: info.height, size: info.size, sha256 });
  }
  return made;
}

function definedOnly(options: WebFigureOptions): WebFigureOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as WebFigureOptions;
}

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
