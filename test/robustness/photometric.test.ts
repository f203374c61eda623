import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applyPhotometric,
  colourShift,
  gammaAdjust,
  gaussianBlur,
  grainNoise,
  hedShift,
  jpegRoundTrip,
  photometricEnabled,
  resize,
  rotate,
  scaleAboutCentre,
  type PhotometricParams,
} from '../../stages/lib/shift/photometric.js';
import { fnv1aSeed, mulberry32 } from '../../stages/lib/random.js';
import { cellOnWhite, isWhite } from './synthetic-cells.js';
import { cellMask } from '../../stages/lib/stain/cell-mask.js';
import { labStats } from '../../stages/lib/stain/reinhard.js';
import { applyStainTemplate } from '../../stages/lib/stain/random-stain-template.js';

const ALL: PhotometricParams = {
  stain: { sigma: 0.3, bias: 0.1 },
  colour: { brightness: 0.1, contrast: 0.2, saturation: 0.2, hue: 10, channelGain: 0.1 },
  gamma: { range: [0.7, 1.4] },
  scale: { range: [0.7, 1.3] },
  blur: { sigma: [0.5, 1.5] },
  jpeg: { quality: [30, 60] },
};

test('the generator is deterministic for a seed and differs between seeds', () => {
  const a = mulberry32(7);
  const b = mulberry32(7);
  const c = mulberry32(8);
  const xs = Array.from({ length: 5 }, () => a());
  assert.equal(xs, Array.from({ length: 5 }, () => b()));
  assert.not.equal(xs, Array.from({ length: 5 }, () => c()));
  const r = mulberry32(1);
  let mean = 0;
  for (let i = 0; i < 10000; i++) {
    const v = r();
    assert.ok(v >= 0 && v < 1);
    mean += v / 10000;
  }
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.is(fnv1aSeed('EO_1'), fnv1aSeed('EO_1'));
  assert.is.not(fnv1aSeed('EO_1', 0), fnv1aSeed('EO_1', 1));
});

test('applyPhotometric gives the same bytes for the same seed and different bytes for another', async () => {
  const cell = cellOnWhite(48);
  const a = await applyPhotometric(cell.data, 48, 48, ALL, 42);
  const b = await applyPhotometric(cell.data, 48, 48, ALL, 42);
  const c = await applyPhotometric(cell.data, 48, 48, ALL, 43);
  assert.equal(a, b);
  assert.not.equal(a, c);
  assert.equal(cell.data, cellOnWhite(48).data, 'input untouched');
});

test('with no op configured applyPhotometric returns an identical copy', async () => {
  const cell = cellOnWhite(32);
  assert.not.ok(photometricEnabled({}));
  assert.ok(photometricEnabled({ gamma: { range: [1, 1] } }));
  const out = await applyPhotometric(cell.data, 32, 32, {}, 1);
  assert.equal(out, cell.data);
  assert.ok(out !== cell.data);
});

test('an op with p = 0 never fires, and enabling it does not change the others\' draws', async () => {
  const cell = cellOnWhite(32);
  const onlyStain = await applyPhotometric(cell.data, 32, 32, { stain: { sigma: 0.3, bias: 0.1 } }, 5);
  const withOff = await applyPhotometric(cell.data, 32, 32, { stain: { sigma: 0.3, bias: 0.1 }, gamma: { range: [0.5, 0.5], p: 0 } }, 5);
  assert.equal(onlyStain, withOff);
});

test('the identity HED shift returns the input (within rounding) and stain/colour keep white background white', () => {
  const cell = cellOnWhite(40);
  const same = hedShift(cell.data, 40, 40, { scale: [1, 1, 1], bias: [0, 0, 0] });
  let maxDiff = 0;
  for (let i = 0; i < same.length; i++) maxDiff = Math.max(maxDiff, Math.abs(same[i]! - cell.data[i]!));
  assert.ok(maxDiff <= 1, `max diff ${maxDiff}`);
  const stained = hedShift(cell.data, 40, 40, { scale: [1.3, 0.7, 1], bias: [0.1, -0.05, 0.02] });
  const coloured = colourShift(cell.data, 40, 40, { brightness: 20, contrast: 1.2, saturation: 0.8, hue: 15, channelGain: [1.1, 0.9, 1] });
  assert.ok(isWhite(stained, 0) && isWhite(coloured, 0), 'corner stays white');
  const centre = (40 * 20 + 20) * 3;
  assert.not.equal([...stained.subarray(centre, centre + 3)], [...cell.data.subarray(centre, centre + 3)]);
});

test('grain noise mottles the cell in blobs of about the grain size, at the drawn strength, and leaves white and the other draws alone', async () => {
  const size = 64;
  const cell = cellOnWhite(size, [110, 60, 150], [180, 150, 190]);
  const mask = cellMask(cell.data, size, size);
  const spread = (img: Uint8Array, lag: number) => {
    // Mean change per channel, its standard deviation, and the correlation of changes `lag` px apart.
    let n = 0, sum = 0, sumSq = 0, sumLag = 0, nLag = 0;
    const d = (i: number) => img[i]! - cell.data[i]!;
    for (let y = 0; y < size; y++) for (let x = 0; x < size - lag; x++) {
      const i = y * size + x;
      if (!mask[i] || !mask[i + lag]) continue;
      for (let c = 0; c < 3; c++) { const v = d(3 * i + c); n++; sum += v; sumSq += v * v; sumLag += v * d(3 * (i + lag) + c); nLag++; }
    }
    const sd = Math.sqrt(sumSq / n - (sum / n) ** 2);
    return { sd, lagCorrelation: sumLag / nLag / (sumSq / n) };
  };
  const fine = grainNoise(cell.data, size, size, 10, 0, mulberry32(3));
  const coarse = grainNoise(cell.data, size, size, 10, 4, mulberry32(3));
  assert.ok(Math.abs(spread(fine, 2).sd - 10) < 2 && Math.abs(spread(coarse, 2).sd - 10) < 4, `strength ${spread(fine, 2).sd}, ${spread(coarse, 2).sd}`);
  assert.ok(spread(fine, 2).lagCorrelation < 0.15, 'without grain, neighbours change independently');
  assert.ok(spread(coarse, 2).lagCorrelation > 0.6, 'with a 4 px grain, pixels 2 px apart change together');
  assert.ok(isWhite(coarse, 0), 'corner stays white');
  assert.equal(grainNoise(cell.data, size, size, 10, 4, mulberry32(3)), coarse, 'deterministic for the generator');
  const onlyGamma = await applyPhotometric(cell.data, size, size, { gamma: { range: [0.6, 1.6] } }, 9);
  const withNoiseOff = await applyPhotometric(cell.data, size, size, { gamma: { range: [0.6, 1.6] }, noise: { sigma: [5, 20], grain: 4, p: 0 } }, 9);
  assert.equal(withNoiseOff, onlyGamma, 'noise draws from its own stream');
  assert.not.equal(await applyPhotometric(cell.data, size, size, { gamma: { range: [0.6, 1.6] }, noise: { sigma: [5, 20], grain: 4 } }, 9), onlyGamma);
});

test('gamma fixes black and white and darkens mid-tones for gamma > 1', () => {
  const out = gammaAdjust(new Uint8Array([0, 128, 255]), 2);
  assert.equal([...out], [0, 64, 255]);
  assert.throws(() => gammaAdjust(new Uint8Array(3), 0), /gamma must be > 0/);
});

test('blur keeps a flat image flat and smooths an edge', () => {
  const flat = new Uint8Array(10 * 10 * 3).fill(100);
  assert.equal(gaussianBlur(flat, 10, 10, 1.5), flat);
  const edge = new Uint8Array(10 * 1 * 3);
  for (let x = 5; x < 10; x++) edge.fill(200, x * 3, x * 3 + 3);
  const b = gaussianBlur(edge, 10, 1, 1);
  assert.ok(b[4 * 3]! > 0 && b[5 * 3]! < 200, 'edge softened');
  assert.ok(b[4 * 3]! < b[5 * 3]!, 'still monotone');
});

test('scaleAboutCentre shrinks the cell onto a white canvas of the same size, enlarging crops into it', () => {
  const cell = cellOnWhite(40);
  const small = scaleAboutCentre(cell.data, 40, 40, 0.5);
  assert.is(small.length, cell.data.length);
  const count = (d: Uint8Array) => {
    let n = 0;
    for (let p = 0; p < d.length; p += 3) if (!isWhite(d, p)) n++;
    return n;
  };
  const ratio = count(small) / count(cell.data);
  assert.ok(ratio > 0.2 && ratio < 0.32, `area ratio ${ratio}`);
  const big = scaleAboutCentre(cell.data, 40, 40, 1.5);
  const bigRatio = count(big) / count(cell.data);
  assert.ok(bigRatio > 1.8 && bigRatio < 2.5, `area ratio ${bigRatio}`);
});

test('resize and rotate keep sizes; rotating by 360° is the identity', () => {
  const cell = cellOnWhite(30);
  assert.is(resize(cell.data, 30, 30, 12, 20).length, 12 * 20 * 3);
  const r = rotate(cell.data, 30, 30, 360);
  let maxDiff = 0;
  for (let i = 0; i < r.length; i++) maxDiff = Math.max(maxDiff, Math.abs(r[i]! - cell.data[i]!));
  assert.ok(maxDiff <= 1, `max diff ${maxDiff}`);
});

test('a low JPEG quality loses more than a high one', async () => {
  const cell = cellOnWhite(48);
  const err = (d: Uint8Array) => d.reduce((s, v, i) => s + Math.abs(v - cell.data[i]!), 0) / d.length;
  const low = await jpegRoundTrip(cell.data, 48, 48, 10);
  const high = await jpegRoundTrip(cell.data, 48, 48, 95);
  assert.is(low.length, cell.data.length);
  assert.ok(err(low) > err(high), `low ${err(low)} high ${err(high)}`);
  let error = '';
  await jpegRoundTrip(cell.data, 48, 48, 0).catch((e: Error) => (error = e.message));
  assert.match(error, /JPEG quality must be 1..100/);
});

test.run();

test('a random stain template moves the cell\'s LAB means and spreads by the drawn amounts, keeps white white, and leaves other draws alone', async () => {
  const cell = cellOnWhite(48);
  const mask = cellMask(cell.data, 48, 48);
  const before = labStats(cell.data, mask)!;
  const draw = { meanShift: [6, -4, 3] as [number, number, number], stdFactor: [1.2, 0.8, 1] as [number, number, number] };
  const out = applyStainTemplate(cell.data, 48, 48, draw, 245);
  const after = labStats(out, mask)!;
  for (let c = 0; c < 3; c++) {
    // Within what 8-bit rounding and gamut clipping allow.
    assert.ok(Math.abs(after.mean[c]! - before.mean[c]! - draw.meanShift[c]!) < 1.5, `mean ${c}: ${before.mean[c]} → ${after.mean[c]}`);
    assert.ok(Math.abs(after.std[c]! / before.std[c]! - draw.stdFactor[c]!) < 0.1, `std ${c}: ${before.std[c]} → ${after.std[c]}`);
  }
  for (let i = 0; i < mask.length; i++) if (!mask[i]) assert.ok(isWhite(out, i * 3), `pixel ${i} stays white`);
  const stain = { stain: { sigma: 0.2, bias: 0.05 }, colour: { hue: 10 } } satisfies PhotometricParams;
  const withTemplate = { ...stain, randomTemplate: { meanSigma: [0, 0, 0], stdLogSigma: [0, 0, 0] } } satisfies PhotometricParams;
  // A zero-spread template is the identity up to rounding, and its own stream leaves the HED and colour draws as they were.
  const a = await applyPhotometric(cell.data, 48, 48, stain, 5);
  const b = await applyPhotometric(cell.data, 48, 48, withTemplate, 5);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst <= 3, `zero-spread template differs by ${worst}`);
  const t1 = await applyPhotometric(cell.data, 48, 48, { randomTemplate: { meanSigma: [5, 5, 5], stdLogSigma: [0.1, 0.1, 0.1] } }, 9);
  const t2 = await applyPhotometric(cell.data, 48, 48, { randomTemplate: { meanSigma: [5, 5, 5], stdLogSigma: [0.1, 0.1, 0.1] } }, 9);
  assert.equal(t1, t2);
  assert.not.equal(t1, cell.data);
});
