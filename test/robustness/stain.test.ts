import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cellMask } from '../../stages/lib/stain/cell-mask.js';
import { fromOd } from '../../stages/lib/stain/color-spaces.js';
import { greyWorldNormalize, rgbMeans } from '../../stages/lib/stain/grey-world.js';
import { estimateStainBasis, symmetricEigen3, type StainBasis, type Vec3 } from '../../stages/lib/stain/macenko.js';
import { normalizeCell } from '../../stages/lib/stain/normalize-cell.js';
import { gaussianBlurRgb, gaussianKernel } from '../../stages/lib/image/gaussian-blur.js';
import { DEFAULT_REFERENCE } from '../../stages/lib/stain/reference.js';
import { labStats } from '../../stages/lib/stain/reinhard.js';
import { cellOnWhite, isWhite } from './synthetic-cells.js';

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a.toFixed(3)} vs ${b.toFixed(3)} (tol ${tol})`);

test('Reinhard maps the cell pixels\' LAB mean and std onto the reference', () => {
  const cell = cellOnWhite(64, [90, 60, 160], [210, 170, 190]);
  const reference = { mean: [45, 25, -25] as [number, number, number], std: [14, 8, 10] as [number, number, number] };
  const out = normalizeCell(cell.data, 64, 64, { method: 'reinhard', reference: { lab: reference } });
  const stats = labStats(out, cellMask(out, 64, 64))!;
  for (let c = 0; c < 3; c++) {
    close(stats.mean[c]!, reference.mean[c]!, 1.0, `mean ${c}`);
    close(stats.std[c]!, reference.std[c]!, 1.0, `std ${c}`);
  }
});

test('every method keeps the background pure white and changes only cell pixels', () => {
  const cell = cellOnWhite(48);
  const mask = cellMask(cell.data, 48, 48);
  for (const method of ['reinhard', 'macenko', 'grey-world', 'none'] as const) {
    const out = normalizeCell(cell.data, 48, 48, { method });
    assert.is(out.length, cell.data.length);
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) assert.ok(isWhite(out, 3 * i), `${method}: background pixel ${i} is not white`);
    }
  }
  // The input buffer is left as it was.
  assert.equal(cell.data, cellOnWhite(48).data);
});

test('near-white background pixels are snapped to pure white', () => {
  const cell = cellOnWhite(32);
  cell.data.set([250, 248, 252], 0);
  const out = normalizeCell(cell.data, 32, 32, { method: 'none' });
  assert.ok(isWhite(out, 0));
  const unchanged = normalizeCell(cell.data, 32, 32, { method: 'none', whiteThreshold: 252 });
  assert.equal([...unchanged.subarray(0, 3)], [250, 248, 252]);
});

test('two versions of a cell stained differently come out close after Reinhard', () => {
  const a = normalizeCell(cellOnWhite(48, [110, 60, 150], [200, 160, 200]).data, 48, 48, { method: 'reinhard' });
  const b = normalizeCell(cellOnWhite(48, [80, 70, 120], [220, 200, 215]).data, 48, 48, { method: 'reinhard' });
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff += Math.abs(a[i]! - b[i]!);
  assert.ok(diff / a.length < 4, `mean abs difference ${diff / a.length}`);
});

test('grey-world matches the cell\'s RGB means to the reference', () => {
  const cell = cellOnWhite(48);
  const mask = cellMask(cell.data, 48, 48);
  const out = greyWorldNormalize(cell.data, mask, [120, 80, 150]);
  const m = rgbMeans(out, mask)!;
  close(m[0], 120, 1, 'R');
  close(m[1], 80, 1, 'G');
  close(m[2], 150, 1, 'B');
});

test('Jacobi eigen-decomposition of a known symmetric matrix', () => {
  const { values } = symmetricEigen3([
    [2, 1, 0],
    [1, 2, 0],
    [0, 0, 5],
  ]);
  const sorted = [...values].sort((x, y) => x - y);
  close(sorted[0]!, 1, 1e-9, 'λ1');
  close(sorted[1]!, 3, 1e-9, 'λ2');
  close(sorted[2]!, 5, 1e-9, 'λ3');
});

// An image rendered from two known stains with random concentrations (Beer–Lambert).
function twoStainImage(s1: Vec3, s2: Vec3, size = 40): Uint8Array {
  const data = new Uint8Array(size * size * 3);
  let k = 1;
  for (let i = 0; i < size * size; i++) {
    k = (k * 48271) % 2147483647;
    const a = ((k % 1000) / 1000) * 1.2;
    k = (k * 48271) % 2147483647;
    const b = ((k % 1000) / 1000) * 0.8;
    for (let c = 0; c < 3; c++) data[3 * i + c] = fromOd(0.2 + a * s1[c]! + b * s2[c]!);
  }
  return data;
}

const unit = (v: number[]): Vec3 => {
  const n = Math.hypot(...v);
  return [v[0]! / n, v[1]! / n, v[2]! / n];
};

test('Macenko recovers the two stain directions of a synthetic two-stain image', () => {
  const purple = unit([0.7, 0.68, 0.22]);
  const pink = unit([0.3, 0.94, 0.15]);
  const img = twoStainImage(purple, pink);
  const basis = estimateStainBasis(img, new Uint8Array(40 * 40).fill(1), { odThreshold: 0.05 })!;
  assert.ok(basis, 'basis estimated');
  const cos = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  // The offset of 0.2 OD on every channel tilts the fitted plane a little; the directions stay close.
  assert.ok(cos(basis.stains[0], purple) > 0.98, `purple cos ${cos(basis.stains[0], purple)}`);
  assert.ok(cos(basis.stains[1], pink) > 0.98, `pink cos ${cos(basis.stains[1], pink)}`);
});

test('Macenko renders a cell with the reference stains and maps robust maxima onto the reference', () => {
  const ref: StainBasis = DEFAULT_REFERENCE.stains;
  const img = twoStainImage(unit([0.55, 0.75, 0.35]), unit([0.2, 0.95, 0.25]));
  const mask = new Uint8Array(40 * 40).fill(1);
  const out = normalizeCell(img, 40, 40, { method: 'macenko' });
  const basis = estimateStainBasis(out, mask, { odThreshold: 0.05 })!;
  const cos = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  assert.ok(cos(basis.stains[0], ref.stains[0]) > 0.97, `stain 1 cos ${cos(basis.stains[0], ref.stains[0])}`);
  assert.ok(cos(basis.stains[1], ref.stains[1]) > 0.97, `stain 2 cos ${cos(basis.stains[1], ref.stains[1])}`);
});

test('an almost white image (nothing to fit) leaves Macenko\'s output equal to the input cell pixels', () => {
  const img = new Uint8Array(20 * 20 * 3).fill(255);
  img.set([240, 238, 236], 30);
  const out = normalizeCell(img, 20, 20, { method: 'macenko' });
  assert.equal([...out.subarray(30, 33)], [240, 238, 236]);
});

test('bad input gives errors naming the problem', () => {
  assert.throws(() => normalizeCell(new Uint8Array(10), 2, 2, { method: 'reinhard' }), /expected 2x2x3 = 12/);
  assert.throws(() => normalizeCell(new Uint8Array(12), 2, 2, { method: 'fancy' as never }), /one of reinhard, macenko, grey-world, none/);
});


test('gaussian blur: weights sum to 1, a flat image stays flat, a step edge spreads over about 3σ', () => {
  const kernel = gaussianKernel(1.5);
  close(kernel.reduce((a, b) => a + b, 0), 1, 1e-12, 'kernel sum');
  assert.is(kernel.length, 2 * Math.ceil(4.5) + 1);
  const flat = new Uint8Array(16 * 16 * 3).fill(137);
  assert.equal([...gaussianBlurRgb(flat, 16, 16, 2)], [...flat]);
  // Left half black, right half white: the blurred row rises monotonically and is 50 % gray at the edge.
  const step = new Uint8Array(32 * 4 * 3);
  for (let y = 0; y < 4; y++) for (let x = 16; x < 32; x++) step.fill(255, (y * 32 + x) * 3, (y * 32 + x) * 3 + 3);
  const out = gaussianBlurRgb(step, 32, 4, 2);
  const row = Array.from({ length: 32 }, (_, x) => out[(1 * 32 + x) * 3]!);
  for (let x = 1; x < 32; x++) assert.ok(row[x]! >= row[x - 1]!, `not monotonic at ${x}: ${row.join(',')}`);
  assert.is(row[0], 0);
  assert.is(row[31], 255);
  close((row[15]! + row[16]!) / 2, 127.5, 1, 'edge midpoint');
  assert.ok(row[12]! > 0 && row[19]! < 255, `the edge spreads: ${row.slice(10, 22).join(',')}`);
  assert.throws(() => gaussianKernel(0), /positive/);
});

test('blurSigma: a sharp cell and a soft-focus copy of it come out closer than without the low-pass', () => {
  // A textured cell (high-frequency granules) and the same cell as a soft-focus microscope gives it.
  const sharp = cellOnWhite(48, [90, 60, 160], [210, 170, 190]);
  for (let i = 0; i < sharp.data.length; i += 3) {
    const p = i / 3;
    if (sharp.data[i]! < 245 && ((p % 48) + Math.floor(p / 48)) % 2 === 0) sharp.data[i] = sharp.data[i + 1] = sharp.data[i + 2] = 40;
  }
  const soft = gaussianBlurRgb(sharp.data, 48, 48, 1.5);
  const distance = (params: Parameters<typeof normalizeCell>[3]) => {
    const a = normalizeCell(sharp.data, 48, 48, params);
    const b = normalizeCell(soft, 48, 48, params);
    let d = 0;
    for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[i]!);
    return d / a.length;
  };
  const without = distance({ method: 'none' });
  const withBlur = distance({ method: 'none', blurSigma: 2 });
  assert.ok(withBlur < without / 2, `mean abs difference ${withBlur.toFixed(2)} with blur vs ${without.toFixed(2)} without`);
  // 0 means no low-pass: the same bytes as leaving the field out.
  assert.equal([...normalizeCell(sharp.data, 48, 48, { method: 'reinhard', blurSigma: 0 })], [...normalizeCell(sharp.data, 48, 48, { method: 'reinhard' })]);
});

test('Reinhard maxGain: a pale cell\'s spread is stretched at most that much; without it, further', () => {
  // A pale, low-contrast cell (a faint stain on a bright field): small LAB spread.
  const pale = cellOnWhite(64, [200, 185, 215], [225, 215, 232]);
  const before = labStats(pale.data, cellMask(pale.data, 64, 64))!;
  const reference = DEFAULT_REFERENCE.lab;
  const free = labStats(normalizeCell(pale.data, 64, 64, { method: 'reinhard' }), cellMask(pale.data, 64, 64))!;
  const capped = labStats(normalizeCell(pale.data, 64, 64, { method: 'reinhard', maxGain: 1.5 }), cellMask(pale.data, 64, 64))!;
  for (let c = 0; c < 3; c++) {
    assert.ok(reference.std[c]! / before.std[c]! > 1.5, `channel ${c} needs a gain above the cap for the test to mean anything`);
    assert.ok(free.std[c]! > capped.std[c]! + 1, `uncapped std ${c} ${free.std[c]!.toFixed(2)} is the wider`);
    assert.ok(capped.std[c]! <= before.std[c]! * 1.5 + 0.5, `capped std ${c}: ${capped.std[c]!.toFixed(2)} vs ${before.std[c]!.toFixed(2)} × 1.5`);
    close(capped.mean[c]!, reference.mean[c]!, 1.0, `capped mean ${c} still the reference's`);
  }
});

test.run();
