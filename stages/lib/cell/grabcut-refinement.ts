// A second look at a smear cell's outline with GrabCut (Rother et al. 2004; OpenCV's implementation):
// colour models of cell and surroundings, fitted on this image alone, decide every pixel around the
// nucleus, with a smoothness term along edges. Purple-ness (cell-representation.ts) finds nucleus and
// stained cytoplasm in every lab, but the pale cytoplasm of another lab's neutrophils can be no more
// purple than its plasma; there the colour models still tell it from a yellowish or pink background and
// from red cells, so the cell keeps its cytoplasm. GrabCut starts from the purple-ness nucleus and a disc
// around it and may move the outline either way; an outcome that is not a plausible cell leaves the
// purple-ness outline as it was. Measured under leave-one-lab-out and not the default (BENCHMARKS.md, Labs).
import { componentsTouching, fillHoles } from '../image/components.js';
import { dilate, erode, open } from '../image/morphology.js';
import { openCv } from '../image/opencv.js';
import { createMask, grownBox, maskArea, maskBBox, maskCompactness, maskOr, maskTouchesBorder, type Mask, type RgbImage } from '../image/raster.js';

/** The outline GrabCut may settle on lies within this many nucleus radii (plus 3 px) of the nucleus. */
export const GRABCUT_REACH = 2.4;
/** Iterations of GrabCut's fit–cut loop (OpenCV's examples use 1–5; two already settle the cells of our labs). */
export const GRABCUT_ITERATIONS = 2;
/** Width in pixels of the image frame taken as surroundings. */
const FRAME = 2;
/** The refined cell keeps at least this share of the purple-ness cell's area. */
export const GRABCUT_MIN_KEPT = 0.75;
/** A refined cell filling this share of the disc it could take has leaked into surroundings the colour models could not tell apart. */
export const GRABCUT_MAX_FILL = 0.85;

export interface Outline {
  cell: Mask;
  nucleus: Mask;
}

/** `found.cell` refined by GrabCut, or `found.cell` itself when the refinement is not a plausible cell. */
export async function refineCellWithGrabCut(image: RgbImage, found: Outline): Promise<{ cell: Mask; refined: boolean }> {
  const { width: w, height: h } = image;
  const nucleus = fillHoles(found.nucleus);
  const nucleusArea = maskArea(nucleus);
  const cellArea = maskArea(found.cell);
  if (nucleusArea < 12 || cellArea === 0) return { cell: found.cell, refined: false };
  const rNucleus = Math.sqrt(nucleusArea / Math.PI);
  // As GrabCut is meant to start: everything near the nucleus may be cell (the rectangle of the original
  // method, here a disc), a band around it is surely not, and the iterations carve the surroundings'
  // colours out of the disc.
  const reach = maskOr(dilate(nucleus, GRABCUT_REACH * rNucleus + 3), found.cell);
  const sure = erode(nucleus, 1);
  const box = grownBox(maskBBox(reach)!, Math.ceil(0.5 * rNucleus) + 2, w, h);
  const cv = await openCv();
  const n = box.width * box.height;
  const rgb = new cv.Mat(box.height, box.width, cv.CV_8UC3);
  const labels = new cv.Mat(box.height, box.width, cv.CV_8UC1);
  const background = new cv.Mat();
  const foreground = new cv.Mat();
  try {
    let hasBackground = false;
    for (let y = 0; y < box.height; y++) {
      for (let x = 0; x < box.width; x++) {
        const s = (box.y + y) * w + box.x + x;
        const d = y * box.width + x;
        rgb.data[3 * d] = image.data[3 * s]!;
        rgb.data[3 * d + 1] = image.data[3 * s + 1]!;
        rgb.data[3 * d + 2] = image.data[3 * s + 2]!;
        // The image's own frame is surroundings too (a tight crop has little else), except where the cell reaches it.
        const frame = !found.cell.data[s] && (box.x + x < FRAME || box.y + y < FRAME || box.x + x >= w - FRAME || box.y + y >= h - FRAME);
        const label = sure.data[s] ? cv.GC_FGD : reach.data[s] && !frame ? cv.GC_PR_FGD : cv.GC_BGD;
        labels.data[d] = label as number;
        if (label === cv.GC_BGD) hasBackground = true;
      }
    }
    // The background model needs samples: a cell whose surroundings lie outside the image is left as it is.
    if (!hasBackground) return { cell: found.cell, refined: false };
    cv.grabCut(rgb, labels, new cv.Rect(0, 0, 0, 0), background, foreground, GRABCUT_ITERATIONS, cv.GC_INIT_WITH_MASK);
    let cut = createMask(w, h);
    for (let d = 0; d < n; d++) {
      const v = labels.data[d]!;
      if (v === cv.GC_FGD || v === cv.GC_PR_FGD) cut.data[(box.y + Math.floor(d / box.width)) * w + box.x + (d % box.width)] = 1;
    }
    // The part joined to the nucleus, thin bridges to touching red cells cut, holes filled.
    cut = maskOr(cut, nucleus);
    cut = fillHoles(componentsTouching(open(componentsTouching(cut, nucleus), Math.max(1, 0.12 * rNucleus)), nucleus));
    cut = maskOr(cut, nucleus);
    const area = maskArea(cut);
    // A cell cut by the image's edge where the purple-ness outline was not: the colour models ran out of
    // background there (a tight crop), not a cell that grew.
    const plausible =
      !(maskTouchesBorder(cut) && !maskTouchesBorder(found.cell)) &&
      area >= GRABCUT_MIN_KEPT * cellArea &&
      area <= GRABCUT_MAX_FILL * maskArea(reach) &&
      maskCompactness(cut, area) >= Math.min(0.6, 0.9 * maskCompactness(found.cell, cellArea));
    return plausible ? { cell: cut, refined: true } : { cell: found.cell, refined: false };
  } finally {
    rgb.delete();
    labels.delete();
    background.delete();
    foreground.delete();
  }
}
