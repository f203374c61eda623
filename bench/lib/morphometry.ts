// Fourteen hand-made measurements of a normalised cell on white, for the question whether shape and
// colour contrasts (which a haematologist reads, and which a stain shift moves less than it moves a deep
// network's activations) help a head in a lab it never saw. Nucleus: the darker Otsu class of the cell's
// pixels (CIELAB lightness), opened by 1 px.
import { fillHoles, labelComponents, selectComponents } from '../../stages/lib/image/components.js';
import { distanceTo, erode, open } from '../../stages/lib/image/morphology.js';
import { createMask, maskArea, maskCompactness, type Mask } from '../../stages/lib/image/raster.js';
import { histogram, otsu } from '../../stages/lib/image/threshold.js';
import { rgbToLab } from '../../stages/lib/stain/color-spaces.js';
import { labStats, type LabStats } from '../../stages/lib/stain/reinhard.js';

export const MORPHOMETRY_NAMES = [
  'nucleus / cell area',
  'nucleus solidity (area / convex hull)',
  'nucleus pieces',
  'nucleus lobes (pieces after a 3 px erosion)',
  'nucleus circularity',
  'nucleus thickness (largest inner distance / √area)',
  'nucleus mean inner distance / √area',
  'cell circularity',
  'cytoplasm − nucleus a*',
  'cytoplasm − nucleus b*',
  'cytoplasm − nucleus L*',
  'cytoplasm L* spread',
  'nucleus L* spread',
  'cytoplasm a* spread',
] as const;

/** The measurements of one size×size RGB cell on white (MORPHOMETRY_NAMES order). */
export function morphometry(rgb: Uint8Array, size: number): number[] {
  const n = size * size;
  const foreground = createMask(size, size);
  for (let i = 0; i < n; i++) foreground.data[i] = Math.min(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!) < 235 ? 1 : 0;
  const cell = fillHoles(largest(foreground));
  const cellArea = Math.max(1, maskArea(cell));
  const lab = new Float64Array(3);
  const dark = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    rgbToLab(rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!, lab, 0);
    dark[i] = Math.max(0, Math.min(255, Math.round(255 - 2.55 * lab[0]!)));
  }
  const cut = otsu(histogram(dark, cell.data)).threshold;
  let nucleus = createMask(size, size);
  for (let i = 0; i < n; i++) nucleus.data[i] = cell.data[i] && dark[i]! > cut ? 1 : 0;
  nucleus = open(nucleus, 1);
  const nucleusArea = Math.max(1, maskArea(nucleus));
  const pieces = labelComponents(nucleus).components.filter((c) => c.area >= 0.05 * nucleusArea).length;
  const lobes = labelComponents(erode(nucleus, 3)).components.filter((c) => c.area >= 4).length;
  const inner = distanceTo(nucleus, 0);
  let deepest = 0, meanDepth = 0;
  for (let i = 0; i < n; i++) if (nucleus.data[i]) { deepest = Math.max(deepest, inner[i]!); meanDepth += inner[i]! / nucleusArea; }
  const none: LabStats = { mean: [0, 0, 0], std: [0, 0, 0] };
  const nucleusLab = labStats(rgb, nucleus.data) ?? none;
  const cytoplasm = createMask(size, size);
  for (let i = 0; i < n; i++) cytoplasm.data[i] = cell.data[i] && !nucleus.data[i] ? 1 : 0;
  const cytoplasmLab = labStats(rgb, cytoplasm.data) ?? none;
  return [
    nucleusArea / cellArea,
    nucleusArea / Math.max(1, convexHullArea(nucleus)),
    pieces,
    lobes,
    maskCompactness(nucleus, nucleusArea),
    deepest / Math.sqrt(nucleusArea),
    meanDepth / Math.sqrt(nucleusArea),
    maskCompactness(cell, cellArea),
    cytoplasmLab.mean[1]! - nucleusLab.mean[1]!,
    cytoplasmLab.mean[2]! - nucleusLab.mean[2]!,
    cytoplasmLab.mean[0]! - nucleusLab.mean[0]!,
    cytoplasmLab.std[0]!,
    nucleusLab.std[0]!,
    cytoplasmLab.std[1]!,
  ];
}

function largest(mask: Mask): Mask {
  const labelling = labelComponents(mask);
  if (labelling.components.length === 0) return mask;
  const best = labelling.components.reduce((a, b) => (b.area > a.area ? b : a));
  return selectComponents(labelling, mask, [best.label]);
}

/** Area of the convex hull of the mask's pixel squares (Andrew's monotone chain). */
function convexHullArea(mask: Mask): number {
  const points: [number, number][] = [];
  for (let y = 0; y < mask.height; y++) for (let x = 0; x < mask.width; x++) if (mask.data[y * mask.width + x]) points.push([x, y], [x + 1, y], [x, y + 1], [x + 1, y + 1]);
  if (points.length < 3) return 1;
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: [number, number], a: [number, number], b: [number, number]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const chain = (list: [number, number][]) => {
    const out: [number, number][] = [];
    for (const p of list) {
      while (out.length >= 2 && cross(out[out.length - 2]!, out[out.length - 1]!, p) <= 0) out.pop();
      out.push(p);
    }
    return out.slice(0, -1);
  };
  const hull = [...chain(points), ...chain([...points].reverse())];
  let twice = 0;
  for (let i = 0; i < hull.length; i++) {
    const p = hull[i]!, q = hull[(i + 1) % hull.length]!;
    twice += p[0] * q[1] - q[0] * p[1];
  }
  return Math.abs(twice) / 2;
}
