// Cytoplasm loss: the canonical cell as a segmentation that misses pale cytoplasm would give it.
// On another lab's smears (BCCD: blurrier optics, paler cytoplasm) the whole-cell mask often stops a
// thin rim outside the nucleus; the canonical rule then scales that smaller mask up, so a neutrophil
// shows a nucleus filling the cell, the way a lymphocyte does, and is called one. Training on
// variants that lost part of their cytoplasm teaches the model nucleus shape rather than the
// nucleus-to-cell ratio of one lab's segmentation. The variant goes through the same canonical crop
// as every other image, so it looks exactly like such a foreign cell would.
import { canonicalCrop, findCellOnWhite } from '../cell/cell-representation.js';
import { fillHoles, labelComponents, selectComponents } from '../image/components.js';
import { dilate, open } from '../image/morphology.js';
import { maskAnd, maskArea, type Mask, type RgbImage } from '../image/raster.js';

export interface CytoplasmLossParams {
  /** Share of augmented variants that lose cytoplasm (each variant draws independently). */
  share: number;
  /** Range of the kept rim around the nucleus, as a fraction of the cell's equivalent radius. */
  rim: [number, number];
  /** The canonical margin of the cells (segment's `margin`), kept by the re-crop. */
  margin: number;
}

export const cytoplasmLossParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['share', 'rim', 'margin'],
  properties: {
    share: { type: 'number', minimum: 0, maximum: 1 },
    rim: { type: 'array', items: { type: 'number', minimum: 0, maximum: 2 }, minItems: 2, maxItems: 2 },
    margin: { type: 'number', minimum: 0, maximum: 0.45 },
  },
};

/**
 * `cell` (a canonical cell on white) with everything farther than `rim` × its equivalent radius from
 * the nucleus turned white, re-cropped to `cell`'s size with `margin`. Returns the cell unchanged when
 * no cell or nucleus is found in it (nothing to take away).
 */
export async function withCytoplasmLoss(cell: RgbImage, rim: number, margin: number): Promise<RgbImage> {
  const found = findCellOnWhite(cell);
  if (!found.ok) return cell;
  const radius = Math.sqrt(maskArea(found.cell) / Math.PI);
  const nucleus = nucleusBody(found.nucleus, radius);
  if (!nucleus) return cell;
  const kept = maskAnd(found.cell, dilate(nucleus, Math.max(1, rim * radius)));
  if (maskArea(kept) < 12) return cell;
  const result = await canonicalCrop(cell, { ...found, cell: kept }, 1, cell.width, margin);
  return result.cell;
}

/** The nucleus without purple specks (granules, debris): opened, then its large parts, holes filled. */
function nucleusBody(purple: Mask, cellRadius: number): Mask | null {
  const opened = open(purple, Math.max(1, cellRadius / 30));
  const labelling = labelComponents(opened);
  const largest = labelling.components.reduce((m, c) => Math.max(m, c.area), 0);
  if (largest === 0) return null;
  const lobes = labelling.components.filter((c) => c.area >= 0.15 * largest).map((c) => c.label);
  return fillHoles(selectComponents(labelling, opened, lobes));
}
