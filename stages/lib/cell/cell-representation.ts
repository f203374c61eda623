// The canonical cell: one pure transform from any leukocyte image to "the cell nearest the centre,
// on pure white, centred, at a canonical scale". segment, predict and evaluate all call this, so a
// model always sees foreign images exactly the way it saw its training images.
//
// How it finds the cell, independently of stain intensity and magnification:
//  1. purple-ness P = B − G (nuclei stained by azure/haematoxylin absorb green far more than blue;
//     red cells, eosin-stained granules and background do not), lightly smoothed against granules;
//  2. nucleus = Otsu threshold on P over the whole image; lobes are grouped by a closing scaled to
//     the image; the large group nearest the centre wins;
//  3. whole cell = a second Otsu on P, local to a ring around the nucleus (cytoplasm vs red cells
//     and background), connected to the nucleus, opened to cut bridges to touching red cells,
//     bounded to a disk around the nucleus, holes filled;
//  4. the crop side follows from the cell's equivalent diameter (not the image size), so a cell
//     fills the same fraction of the square whatever the source microscope's magnification.
// An image whose border is (nearly) all white is a cell already cut out onto white: there is no
// plasma or red cell to contrast pale cytoplasm against, so purple-ness would keep only the nucleus.
// There the cell is simply the non-white region nearest the centre (findCellOnWhite), cropped and
// scaled by the same rule (4).
import sharp from 'sharp';
import { componentsTouching, fillHoles, labelComponents, selectComponents } from '../image/components.js';
import { decodeRgb, encodeMaskPng, encodePng, rgbSharp } from '../image/decode.js';
import { boxBlur } from '../image/filter.js';
import { close, dilate, distanceTo, erode, open } from '../image/morphology.js';
import { createMask, cropMask, cropPlane, grownBox, maskAnd, maskArea, maskBBox, maskCompactness, maskOr, maskTouchesBorder, pasteMask, type BBox, type Mask, type RgbImage } from '../image/raster.js';
import { histogram, otsu, otsu3 } from '../image/threshold.js';
import { refineCellWithGrabCut } from './grabcut-refinement.js';

export interface CanonicalCellOptions {
  /** Side of the output square in pixels. */
  size?: number;
  /** Fraction of the side left white on each side of the cell's equivalent diameter. */
  margin?: number;
  /** Images larger than this many pixels are downscaled before the search (speed; scale is recorded). */
  maxWorkingPixels?: number;
  /** Name used in error messages and the record. */
  name?: string;
  /**
   * `grabcut`: a smear cell's purple-ness outline is refined by GrabCut (grabcut-refinement.ts), which keeps
   * the pale cytoplasm of other labs; `none` (the default): the purple-ness outline as it is.
   */
  refine?: CellRefinement;
}

export const CELL_REFINEMENTS = ['none', 'grabcut'] as const;
export type CellRefinement = (typeof CELL_REFINEMENTS)[number];

export type CanonicalStatus = 'ok' | 'fallback';

/**
 * Which search found the cell: `white` (already cut out onto white), `plain` (cut out onto another flat,
 * neutral, light backdrop such as light grey) or `smear` (a stained smear crop, by purple-ness).
 */
export type CanonicalBackground = 'white' | 'plain' | 'smear';

/** A border pixel is white when its darkest channel is at least this (JPEG ringing stays above it). */
export const WHITE_BORDER_LEVEL = 235;
/** Share of white border pixels from which an image counts as already cut out onto white. */
export const WHITE_BORDER_FRACTION = 0.9;
/** On white input, a pixel belongs to the cell when its darkest channel is below this. */
export const WHITE_FOREGROUND_LEVEL = 235;
/**
 * A border counts as a plain backdrop when this share of its pixels lies within BACKDROP_TOLERANCE of the
 * border's median colour, and that median is neutral (channels within BACKDROP_MAX_CHROMA) and light
 * (darkest channel ≥ BACKDROP_MIN_LEVEL). Smear plasma is either tinted (PBC) or darker (BCCD: 172–207).
 */
export const BACKDROP_SHARE = 0.6;
export const BACKDROP_TOLERANCE = 12;
export const BACKDROP_MAX_CHROMA = 12;
export const BACKDROP_MIN_LEVEL = 215;
/** On a plain backdrop, a cell pixel is at least this much darker than the backdrop in its darkest channel. */
export const BACKDROP_CONTRAST = 15;
/** The plain path is taken only when the chosen cell holds this share of all non-backdrop pixels (one cell, not a smear). */
export const BACKDROP_SINGLE_CELL_SHARE = 0.8;

export interface CanonicalRecord {
  status: CanonicalStatus;
  /** Which search was used; always set by toCanonicalCell (optional only for records built elsewhere). */
  background?: CanonicalBackground;
  /** Why the cell could not be found (fallback) or what was doubtful (ok). */
  reason: string | null;
  /** 0..1: how cleanly stained cell and surroundings separated, lowered for border contact or odd shapes. */
  confidence: number;
  /** Areas in pixels of the source image. */
  cellArea: number;
  nucleusArea: number;
  /** Cell bounding box in source-image pixels. */
  bbox: BBox | null;
  /** Output pixels per source pixel. */
  scale: number;
  sourceWidth: number;
  sourceHeight: number;
}

export interface CanonicalCell {
  status: CanonicalStatus;
  /** size×size RGB, cell on pure white (fallback: the centre square of the image, unsegmented). */
  cell: RgbImage;
  /** size×size mask of the cell in `cell` (fallback: all ones). */
  mask: Mask;
  record: CanonicalRecord;
}

const DEFAULTS = { size: 128, margin: 0.1, maxWorkingPixels: 1_500_000 };

/** Smallest image side the search accepts; below that the result is a fallback. */
export const MIN_SIDE = 16;

/**
 * Canonical cell from encoded image bytes (any format sharp reads) or a raw RGB raster.
 * Throws `ImageDecodeError` for bytes that are not a readable image; never throws for a readable
 * image without a cell (that is `status: 'fallback'` with a reason).
 */
export async function toCanonicalCell(input: Buffer | RgbImage, options: CanonicalCellOptions = {}): Promise<CanonicalCell> {
  const size = options.size ?? DEFAULTS.size;
  const margin = options.margin ?? DEFAULTS.margin;
  const image = Buffer.isBuffer(input)
    ? await decodeRgb(input, { maxPixels: options.maxWorkingPixels ?? DEFAULTS.maxWorkingPixels, name: options.name })
    : { ...input, originalWidth: input.width, originalHeight: input.height, scale: 1 };
  const { background, found: searched } = searchCell(image);
  const found = searched.ok && background === 'smear' && options.refine === 'grabcut' ? await refined(image, searched) : searched;
  const result = found.ok ? await canonicalCrop(image, found, image.scale, size, margin) : await fallback(image, image.scale, size, found.reason);
  const { status, ...rest } = result.record;
  result.record = { status, background, ...rest };
  return result;
}

/** The smear search's cell with its outline refined by GrabCut (unchanged when that is not plausible). */
async function refined(image: RgbImage, found: CellFound): Promise<CellFound> {
  const { cell, refined } = await refineCellWithGrabCut(image, found);
  return refined ? { ...found, cell } : found;
}

/** Which search suits the image, and what it found: white and plain backdrops by their border, else the smear search. */
function searchCell(image: RgbImage): { background: CanonicalBackground; found: CellFound | { ok: false; reason: string } } {
  if (whiteBorderFraction(image) >= WHITE_BORDER_FRACTION) return { background: 'white', found: findCellOnWhite(image) };
  const backdrop = plainBackdrop(image);
  if (backdrop) {
    const foregroundLevel = Math.min(WHITE_FOREGROUND_LEVEL, backdrop.level - BACKDROP_CONTRAST);
    const found = findCellOnWhite(image, { foregroundLevel, borderShare: backdrop.share });
    if (found.ok && found.foregroundShare >= BACKDROP_SINGLE_CELL_SHARE) return { background: 'plain', found };
  }
  return { background: 'smear', found: findCell(image) };
}

/** Pixel indices of the image's outermost rows and columns, each once. */
function borderPixels(image: RgbImage): number[] {
  const { width: w, height: h } = image;
  const at: number[] = [];
  if (w === 0 || h === 0) return at;
  for (let x = 0; x < w; x++) {
    at.push(x);
    if (h > 1) at.push((h - 1) * w + x);
  }
  for (let y = 1; y < h - 1; y++) {
    at.push(y * w);
    if (w > 1) at.push(y * w + w - 1);
  }
  return at;
}

/** The border's flat, neutral, light backdrop (its level: the median's darkest channel), or null. */
export function plainBackdrop(image: RgbImage): { level: number; share: number } | null {
  const at = borderPixels(image);
  if (at.length === 0) return null;
  const median = [0, 1, 2].map((c) => {
    const values = at.map((i) => image.data[3 * i + c]!).sort((a, b) => a - b);
    return values[values.length >> 1]!;
  });
  const level = Math.min(...median);
  if (level < BACKDROP_MIN_LEVEL || Math.max(...median) - level > BACKDROP_MAX_CHROMA) return null;
  const near = at.filter((i) => median.every((m, c) => Math.abs(image.data[3 * i + c]! - m) <= BACKDROP_TOLERANCE)).length;
  const share = near / at.length;
  return share >= BACKDROP_SHARE ? { level, share } : null;
}

/** Share of border pixels whose darkest channel is ≥ WHITE_BORDER_LEVEL (0 for an empty image). */
export function whiteBorderFraction(image: RgbImage): number {
  const { data } = image;
  const at = borderPixels(image);
  if (at.length === 0) return 0;
  const white = at.filter((i) => Math.min(data[3 * i]!, data[3 * i + 1]!, data[3 * i + 2]!) >= WHITE_BORDER_LEVEL).length;
  return white / at.length;
}

/**
 * The cell of an image already cut out onto white: the non-white component nearest the centre (among
 * those at least a fifth of the largest, so JPEG specks and crumbs are ignored), holes filled. Pale
 * cytoplasm is kept because anything darker than paper counts. The nucleus (for the record) is the
 * Otsu-purple part of the cell. `backdrop` adapts it to a flat backdrop other than white (light grey):
 * cell pixels are those darker than its foreground level, and the border's share of backdrop pixels is
 * the confidence. `foregroundShare`, the chosen cell's share of all non-backdrop pixels, tells a single
 * cut-out cell (near 1) from a smear (red cells everywhere).
 */
export function findCellOnWhite(
  image: RgbImage,
  backdrop: { foregroundLevel: number; borderShare: number } | null = null,
): (CellFound & { foregroundShare: number }) | { ok: false; reason: string } {
  const { width: w, height: h, data } = image;
  if (w < MIN_SIDE || h < MIN_SIDE) return { ok: false, reason: `image too small (${w}×${h} px, need ≥ ${MIN_SIDE})` };
  const n = w * h;
  const foregroundLevel = backdrop?.foregroundLevel ?? WHITE_FOREGROUND_LEVEL;
  const foreground = createMask(w, h);
  for (let i = 0; i < n; i++) foreground.data[i] = Math.min(data[3 * i]!, data[3 * i + 1]!, data[3 * i + 2]!) < foregroundLevel ? 1 : 0;
  const labelling = labelComponents(foreground);
  const largest = labelling.components.reduce((m, c) => Math.max(m, c.area), 0);
  if (largest < 12) return { ok: false, reason: 'white image without a cell (no non-white region)' };
  const cx = (w - 1) / 2, cy = (h - 1) / 2;
  const best = labelling.components
    .filter((c) => c.area >= 0.2 * largest)
    .reduce((a, b) => (Math.hypot(a.cx - cx, a.cy - cy) <= Math.hypot(b.cx - cx, b.cy - cy) ? a : b));
  const cell = fillHoles(selectComponents(labelling, foreground, [best.label]));
  const cellArea = maskArea(cell);

  const purple = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = 2 * (data[3 * i + 2]! - data[3 * i + 1]!) + 80;
    purple[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
  }
  const cut = otsu(histogram(purple, cell.data));
  const nucleus = createMask(w, h);
  for (let i = 0; i < n; i++) nucleus.data[i] = cell.data[i]! && purple[i]! > cut.threshold ? 1 : 0;

  // Confidence: how clean the backdrop at the border is, lowered (as on smears) when the cell is cut by the border.
  let confidence = backdrop?.borderShare ?? whiteBorderFraction(image);
  const doubts: string[] = [];
  if (maskTouchesBorder(cell)) {
    confidence *= 0.6;
    doubts.push('cell touches the image border');
  }
  const compactness = maskCompactness(cell, cellArea);
  if (compactness < 0.5) {
    confidence *= 0.7;
    doubts.push(`irregular outline (compactness ${compactness.toFixed(2)})`);
  }
  const foregroundShare = best.area / labelling.components.reduce((sum, c) => sum + c.area, 0);
  return { ok: true, cell, nucleus, confidence: round3(Math.min(1, confidence)), reason: doubts.length ? doubts.join('; ') : null, foregroundShare };
}

export interface CellFound {
  ok: true;
  cell: Mask;
  nucleus: Mask;
  confidence: number;
  reason: string | null;
}

/** Locates the leukocyte nearest the centre of an RGB image (working resolution). */
export function findCell(image: RgbImage): CellFound | { ok: false; reason: string } {
  const { width: w, height: h, data } = image;
  if (w < MIN_SIDE || h < MIN_SIDE) return { ok: false, reason: `image too small (${w}×${h} px, need ≥ ${MIN_SIDE})` };
  const n = w * h;
  const side = Math.min(w, h);
  const purple = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Offset so that the slightly negative values of background and red cells keep their order.
    const v = 2 * (data[3 * i + 2]! - data[3 * i + 1]!) + 80;
    purple[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
  }
  const smooth = boxBlur(purple, w, h, Math.max(1, Math.round(side / 150)));

  // 1. Nucleus: three-class Otsu over the whole image (background | red cells and cytoplasm |
  // nuclei); the upper cut isolates the most strongly stained class whatever the stain intensity.
  const hist = histogram(smooth);
  const three = otsu3(hist);
  const nucleusCut = { threshold: three.high, separability: three.separability };
  if (nucleusCut.separability < 0.3) return { ok: false, reason: `no distinct stained region (separability ${nucleusCut.separability.toFixed(2)})` };
  const stained = createMask(w, h);
  for (let i = 0; i < n; i++) stained.data[i] = smooth[i]! > nucleusCut.threshold ? 1 : 0;
  const grouped = close(stained, Math.max(2, side / 40));
  const { labels, components } = labelComponents(grouped);
  const largest = components.reduce((m, c) => Math.max(m, c.area), 0);
  const minArea = Math.max(12, 0.15 * largest);
  const cx = (w - 1) / 2, cy = (h - 1) / 2;
  const candidates = components.filter((c) => c.area >= minArea);
  if (candidates.length === 0) return { ok: false, reason: 'no nucleus-sized stained region' };
  const best = candidates.reduce((a, b) => (Math.hypot(a.cx - cx, a.cy - cy) <= Math.hypot(b.cx - cx, b.cy - cy) ? a : b));
  const nucleusRegion = fillHoles(selectComponents({ labels, components }, grouped, [best.label]));
  const nucleus = maskAnd(nucleusRegion, dilate(stained, 1));
  const nucleusArea = maskArea(nucleus);
  if (nucleusArea < 12) return { ok: false, reason: 'nucleus region too small' };
  const rNucleus = Math.sqrt(maskArea(nucleusRegion) / Math.PI);

  // 2. Cytoplasm: thresholds local to a ring around the nucleus, which holds cytoplasm, red cells and
  // background. Pale cytoplasm (neutrophils) may sit between red cells and background or above red
  // cells, so the two-class cut and both three-class cuts are tried; the roundest resulting cell wins.
  const reach = dilate(nucleusRegion, 1.6 * rNucleus + 2);
  const ring = createMask(w, h);
  for (let i = 0; i < n; i++) ring.data[i] = reach.data[i]! && !nucleusRegion.data[i] ? 1 : 0;
  // Cytoplasm is granular (dark granules next to pale ground), so it is judged on a wider average.
  const coarse = boxBlur(purple, w, h, Math.max(1, Math.round(0.18 * rNucleus)));
  const ringValues = histogram(coarse, ring.data);
  const ring3 = otsu3(ringValues);
  const cuts = [...new Set([otsu(ringValues).threshold, ring3.low, ring3.high])].filter((t) => t < nucleusCut.threshold);
  const nucleusRegionArea = maskArea(nucleusRegion);
  // Growing touches nothing beyond the reach and its closing radius, so it runs on that window: the
  // same masks (a window with a background ring of two pixels around every mask gives the whole
  // image's distances and holes; morphology.ts), on a third to a half of the pixels.
  const win = grownBox(maskBBox(reach)!, Math.ceil(Math.max(1, 0.1 * rNucleus)) + 3, w, h);
  const [coarseWin, smoothWin, reachWin, nucleusWin] = [cropPlane(coarse, w, win), cropPlane(smooth, w, win), cropMask(reach, win), cropMask(nucleusRegion, win)];
  const grown = cuts.map((cut) => {
    const part = growCell(coarseWin, smoothWin, cut, reachWin, nucleusWin, rNucleus);
    const area = maskArea(part);
    return { mask: pasteMask(part, win, w, h), area, compactness: maskCompactness(part, area) };
  });
  // A cell is round and larger than its nucleus; a nucleus alone or a cell with red cells attached is
  // not. Among outlines nearly as round as the roundest, take the largest: pale cytoplasm counts.
  const plausible = grown.filter((g) => g.area >= 1.15 * nucleusRegionArea);
  const pool = plausible.length ? plausible : grown;
  const roundest = Math.max(...pool.map((g) => g.compactness));
  const cell = pool.filter((g) => g.compactness >= 0.97 * roundest).reduce((a, b) => (b.area > a.area ? b : a)).mask;

  const cellArea = maskArea(cell);
  let confidence = nucleusCut.separability;
  const doubts: string[] = [];
  if (maskTouchesBorder(cell)) {
    confidence *= 0.6;
    doubts.push('cell touches the image border');
  }
  if (cellArea < 1.05 * nucleusArea) {
    confidence *= 0.8;
    doubts.push('no cytoplasm found around the nucleus');
  }
  const compactness = maskCompactness(cell, cellArea);
  if (compactness < 0.5) {
    confidence *= 0.7;
    doubts.push(`irregular outline (compactness ${compactness.toFixed(2)})`);
  }
  return { ok: true, cell, nucleus, confidence: round3(Math.min(1, confidence)), reason: doubts.length ? doubts.join('; ') : null };
}

/** Pixels above `cut` within `reach`, joined to the nucleus, with necks to neighbours cut. */
function growCell(smooth: Uint8Array, fine: Uint8Array, cut: number, reach: Mask, nucleusRegion: Mask, rNucleus: number): Mask {
  const { width: w, height: h } = reach;
  const n = w * h;
  const cyto = createMask(w, h);
  for (let i = 0; i < n; i++) cyto.data[i] = smooth[i]! > cut && reach.data[i] ? 1 : 0;
  const candidate = maskOr(cyto, nucleusRegion);
  // Erode by about half the cell's radius: necks to touching red cells and platelets vanish, and
  // their bodies become separate cores. Keep only the cores that overlap the nucleus, then grow them
  // back within the candidate (a reconstruction, so the cell's own outline is kept).
  const r = Math.max(1, 0.45 * Math.sqrt(maskArea(candidate) / Math.PI));
  const cores = erode(candidate, r);
  const coreLabels = labelComponents(cores);
  const keepCores = new Set<number>();
  for (let i = 0; i < n; i++) if (nucleusRegion.data[i] && coreLabels.labels[i]) keepCores.add(coreLabels.labels[i]!);
  let cell: Mask;
  if (keepCores.size > 0) {
    // Each candidate pixel goes to its nearest core (a cheap watershed), so the neck between the cell
    // and a touching red cell is divided between them instead of being grown into by both.
    const own = distanceTo(selectComponents(coreLabels, cores, keepCores), 1);
    const others = createMask(w, h);
    for (let i = 0; i < n; i++) others.data[i] = cores.data[i]! && !keepCores.has(coreLabels.labels[i]!) ? 1 : 0;
    const hasOthers = keepCores.size < coreLabels.components.length;
    const theirs = hasOthers ? distanceTo(others, 1) : null;
    cell = createMask(w, h);
    for (let i = 0; i < n; i++) {
      const d = own[i]!;
      cell.data[i] = candidate.data[i]! && d <= r + 1 && (!theirs || d <= theirs[i]!) ? 1 : 0;
    }
    cell = maskOr(cell, nucleusRegion);
  } else {
    cell = maskOr(open(candidate, Math.max(1, 0.35 * Math.sqrt(maskArea(candidate) / Math.PI))), nucleusRegion);
  }
  // The coarse average moved edges outwards by up to its radius; trim them on the fine channel.
  const trimmed = createMask(w, h);
  for (let i = 0; i < n; i++) trimmed.data[i] = cell.data[i]! && fine[i]! > cut ? 1 : 0;
  cell = maskOr(fillHoles(close(trimmed, Math.max(1, 0.1 * rNucleus))), nucleusRegion);
  cell = maskAnd(cell, fillHoles(close(maskOr(cyto, nucleusRegion), Math.max(1, 0.1 * rNucleus))));
  return fillHoles(close(componentsTouching(cell, nucleusRegion), Math.max(1, 0.08 * rNucleus)));
}

/** Crops and scales `image` around `found.cell` by the canonical rule (equivalent diameter sets the side). */
export async function canonicalCrop(image: RgbImage, found: CellFound, workScale: number, size: number, margin: number): Promise<CanonicalCell> {
  const { cell: mask } = found;
  const bbox = maskBBox(mask)!;
  const area = maskArea(mask);
  const diameter = 2 * Math.sqrt(area / Math.PI);
  // Equivalent diameter sets the scale; a long cell still fits, keeping at least half the margin.
  const sideWork = Math.max(diameter / (1 - 2 * margin), Math.max(bbox.width, bbox.height) / (1 - margin), 4);
  const centreX = bbox.x + bbox.width / 2, centreY = bbox.y + bbox.height / 2;
  const crop = cropSquare(image, mask, centreX, centreY, Math.round(sideWork));
  const resized = await resizeRgb(crop.rgb, size);
  const resizedMask = await resizeMask(crop.mask, size);
  // Re-apply the resized mask so resampling leaves no tinted halo on the white.
  const cell = new Uint8Array(resized.data);
  for (let i = 0; i < size * size; i++) if (!resizedMask.data[i]) cell[3 * i] = cell[3 * i + 1] = cell[3 * i + 2] = 255;
  const toSource = 1 / workScale;
  return {
    status: 'ok',
    cell: { width: size, height: size, data: cell },
    mask: resizedMask,
    record: {
      status: 'ok',
      reason: found.reason,
      confidence: found.confidence,
      cellArea: Math.round(area * toSource * toSource),
      nucleusArea: Math.round(maskArea(found.nucleus) * toSource * toSource),
      bbox: {
        x: Math.round(bbox.x * toSource),
        y: Math.round(bbox.y * toSource),
        width: Math.round(bbox.width * toSource),
        height: Math.round(bbox.height * toSource),
      },
      scale: round3((size / Math.round(sideWork)) * workScale),
      sourceWidth: Math.round(image.width * toSource),
      sourceHeight: Math.round(image.height * toSource),
    },
  };
}

/** Square window centred at (cx, cy); outside the image and outside the mask become white. */
function cropSquare(image: RgbImage, mask: Mask, cx: number, cy: number, side: number): { rgb: RgbImage; mask: Mask } {
  const x0 = Math.round(cx - side / 2), y0 = Math.round(cy - side / 2);
  const rgb = new Uint8Array(side * side * 3).fill(255);
  const m = createMask(side, side);
  for (let y = 0; y < side; y++) {
    const sy = y0 + y;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < side; x++) {
      const sx = x0 + x;
      if (sx < 0 || sx >= image.width) continue;
      const s = sy * image.width + sx;
      if (!mask.data[s]) continue;
      const d = y * side + x;
      m.data[d] = 1;
      rgb[3 * d] = image.data[3 * s]!;
      rgb[3 * d + 1] = image.data[3 * s + 1]!;
      rgb[3 * d + 2] = image.data[3 * s + 2]!;
    }
  }
  return { rgb: { width: side, height: side, data: rgb }, mask: m };
}

async function resizeRgb(image: RgbImage, size: number): Promise<RgbImage> {
  const { data, info } = await rgbSharp(image)
    .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

async function resizeMask(mask: Mask, size: number): Promise<Mask> {
  const grey = Buffer.alloc(mask.data.length);
  for (let i = 0; i < grey.length; i++) grey[i] = mask.data[i] ? 255 : 0;
  const { data } = await sharp(grey, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .resize(size, size, { fit: 'fill', kernel: 'linear' })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const out = createMask(size, size);
  for (let i = 0; i < out.data.length; i++) out.data[i] = data[i]! >= 128 ? 1 : 0;
  return out;
}

async function fallback(image: RgbImage, workScale: number, size: number, reason: string): Promise<CanonicalCell> {
  const side = Math.min(image.width, image.height);
  const x0 = Math.floor((image.width - side) / 2), y0 = Math.floor((image.height - side) / 2);
  const { data } = await rgbSharp(image)
    .extract({ left: x0, top: y0, width: side, height: side })
    .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const mask = createMask(size, size);
  mask.data.fill(1);
  return {
    status: 'fallback',
    cell: { width: size, height: size, data: new Uint8Array(data) },
    mask,
    record: {
      status: 'fallback',
      reason,
      confidence: 0,
      cellArea: 0,
      nucleusArea: 0,
      bbox: null,
      scale: round3((size / side) * workScale),
      sourceWidth: Math.round(image.width / workScale),
      sourceHeight: Math.round(image.height / workScale),
    },
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** PNG bytes of a canonical cell and its mask (fixed encoder options: deterministic bytes). */
export async function encodeCanonical(result: CanonicalCell): Promise<{ cellPng: Buffer; maskPng: Buffer }> {
  return { cellPng: await encodePng(result.cell), maskPng: await encodeMaskPng(result.mask) };
}
