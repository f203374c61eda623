// Connected components (8-connected) and hole filling on binary masks.
import { createMask, type BBox, type Mask } from './raster.js';

export interface Component {
  label: number;
  area: number;
  cx: number;
  cy: number;
  bbox: BBox;
  touchesBorder: boolean;
}

export interface Labelling {
  /** 0 = background, k ≥ 1 = component k. */
  labels: Int32Array;
  components: Component[];
}

/** Labels 8-connected foreground regions with an explicit stack (no recursion limits). */
export function labelComponents(mask: Mask): Labelling {
  const { width: w, height: h, data } = mask;
  const labels = new Int32Array(w * h);
  const components: Component[] = [];
  const stack = new Int32Array(w * h);
  for (let start = 0; start < data.length; start++) {
    if (!data[start] || labels[start]) continue;
    const label = components.length + 1;
    let top = 0, area = 0, sx = 0, sy = 0, x0 = w, y0 = h, x1 = 0, y1 = 0, border = false;
    stack[top++] = start;
    labels[start] = label;
    while (top > 0) {
      const p = stack[--top]!;
      const x = p % w, y = (p - x) / w;
      area++;
      sx += x;
      sy += y;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1) border = true;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= w) continue;
          const q = ny * w + nx;
          if (data[q] && !labels[q]) {
            labels[q] = label;
            stack[top++] = q;
          }
        }
      }
    }
    components.push({
      label,
      area,
      cx: sx / area,
      cy: sy / area,
      bbox: { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 },
      touchesBorder: border,
    });
  }
  return { labels, components };
}

/** Mask of the given component labels. */
export function selectComponents(labelling: Labelling, mask: Mask, keep: Iterable<number>): Mask {
  const wanted = new Set(keep);
  const out = createMask(mask.width, mask.height);
  const { labels } = labelling;
  for (let i = 0; i < labels.length; i++) if (wanted.has(labels[i]!)) out.data[i] = 1;
  return out;
}

/** The components of `mask` that overlap `seed` (8-connected). */
export function componentsTouching(mask: Mask, seed: Mask): Mask {
  const labelling = labelComponents(mask);
  const keep = new Set<number>();
  for (let i = 0; i < seed.data.length; i++) if (seed.data[i] && labelling.labels[i]) keep.add(labelling.labels[i]!);
  return selectComponents(labelling, mask, keep);
}

/** Fills background regions not connected (4-connected) to the image border. */
export function fillHoles(mask: Mask): Mask {
  const { width: w, height: h, data } = mask;
  // A copy framed by one pixel that counts as reached, so the flood needs no bounds checks:
  // 1 = mask, 0 = background not yet reached, 2 = background reached from the border.
  const W = w + 2;
  const state = new Uint8Array(W * (h + 2));
  for (let y = 0; y < h; y++) state.set(data.subarray(y * w, y * w + w), (y + 1) * W + 1);
  for (let x = 0; x < W; x++) state[x] = state[(h + 1) * W + x] = 2;
  for (let y = 1; y <= h; y++) state[y * W] = state[y * W + W - 1] = 2;
  const stack = new Int32Array(w * h);
  let top = 0;
  const reach = (p: number) => {
    if (state[p] === 0) {
      state[p] = 2;
      stack[top++] = p;
    }
  };
  for (let x = 1; x <= w; x++) {
    reach(W + x);
    reach(h * W + x);
  }
  for (let y = 1; y <= h; y++) {
    reach(y * W + 1);
    reach(y * W + w);
  }
  while (top > 0) {
    const p = stack[--top]!;
    if (state[p - 1] === 0) { state[p - 1] = 2; stack[top++] = p - 1; }
    if (state[p + 1] === 0) { state[p + 1] = 2; stack[top++] = p + 1; }
    if (state[p - W] === 0) { state[p - W] = 2; stack[top++] = p - W; }
    if (state[p + W] === 0) { state[p + W] = 2; stack[top++] = p + W; }
  }
  const out = createMask(w, h);
  for (let y = 0; y < h; y++) {
    const row = (y + 1) * W + 1;
    for (let x = 0; x < w; x++) out.data[y * w + x] = state[row + x] === 2 ? 0 : 1;
  }
  return out;
}
