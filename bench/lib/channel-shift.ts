// Lateral chromatic aberration check: the whole-pixel shift (within ±3 px) of a cell's red or blue channel
// against its green one whose edges (gradient magnitudes, which every channel shares where the intensities
// themselves need not) correlate best over the cell. A lens that bends colours apart gives the same non-zero
// shift cell after cell; aligned optics give (0, 0).
import { erode } from '../../stages/lib/image/morphology.js';
import { cellMask } from '../../stages/lib/stain/cell-mask.js';

const MAX_SHIFT = 3;
const MARGIN = 8;
const INSET = 4;

export function bestChannelShift(rgb: Uint8Array, width: number, height: number, channel: 0 | 2, white = 245): { dx: number; dy: number; r: number } {
  // Only edges well inside the cell: the cut-out's edge against white is one mask for all three channels.
  const mask = erode({ width, height, data: cellMask(rgb, width, height, white) }, INSET).data;
  const inside = (i: number) => mask[i] === 1;
  const edges = (c: number) => {
    const g = new Float64Array(width * height);
    for (let y = 1; y < height - 1; y++) for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      g[i] = Math.hypot(rgb[3 * (i + 1) + c]! - rgb[3 * (i - 1) + c]!, rgb[3 * (i + width) + c]! - rgb[3 * (i - width) + c]!);
    }
    return g;
  };
  const green = edges(1), other = edges(channel);
  let best = { dx: 0, dy: 0, r: -Infinity };
  for (let dy = -MAX_SHIFT; dy <= MAX_SHIFT; dy++) for (let dx = -MAX_SHIFT; dx <= MAX_SHIFT; dx++) {
    let sab = 0, sa = 0, sb = 0, saa = 0, sbb = 0, n = 0;
    for (let y = MARGIN; y < height - MARGIN; y++) for (let x = MARGIN; x < width - MARGIN; x++) {
      const i = y * width + x, j = (y + dy) * width + (x + dx);
      if (!inside(i) || !inside(j)) continue;
      const a = green[i]!, b = other[j]!;
      sab += a * b; sa += a; sb += b; saa += a * a; sbb += b * b; n++;
    }
    if (n < 50) continue;
    const r = (sab - (sa * sb) / n) / Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
    if (r > best.r) best = { dx, dy, r };
  }
  return best;
}

