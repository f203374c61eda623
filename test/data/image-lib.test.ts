import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fillHoles, labelComponents } from '../../stages/lib/image/components.js';
import { decodeMask, decodeRgb, encodeMaskPng, encodePng, ImageDecodeError } from '../../stages/lib/image/decode.js';
import { close, dilate, distanceTo, erode, open } from '../../stages/lib/image/morphology.js';
import { createMask, dice, maskArea, maskBBox } from '../../stages/lib/image/raster.js';
import { histogram, otsu } from '../../stages/lib/image/threshold.js';
import { hammingDistance, perceptualHash } from '../../stages/lib/image/perceptual-hash.js';
import { augmentMatrix, invert, compose, warpAffine } from '../../stages/lib/image/affine.js';
import { mulberry32, unitHash } from '../../stages/lib/random.js';
import { discMask, paint, PLASMA, NUCLEUS, rejection } from './synthetic.js';

function maskFrom(rows: string[]) {
  const m = createMask(rows[0]!.length, rows.length);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (m.data[y * m.width + x] = ch === '#' ? 1 : 0)));
  return m;
}

test('labelComponents finds 8-connected regions with area, centroid and bbox', () => {
  const m = maskFrom(['##....', '##..#.', '.....#', '......', '###...']);
  const { components } = labelComponents(m);
  assert.is(components.length, 3);
  assert.equal(components.map((c) => c.area), [4, 2, 3]);
  assert.equal(components[0]!.bbox, { x: 0, y: 0, width: 2, height: 2 });
  assert.is(components[1]!.cx, 4.5);
  assert.ok(components[2]!.touchesBorder);
});

test('fillHoles fills enclosed background only', () => {
  const m = maskFrom(['#####.', '#...#.', '#####.', '......']);
  const f = fillHoles(m);
  assert.is(maskArea(f), 15);
  assert.is(f.data[5], 0);
});

test('dilate/erode by a disk match the known disc areas', () => {
  const point = createMask(41, 41);
  point.data[20 * 41 + 20] = 1;
  const d = dilate(point, 10);
  // A disc of radius 10 has ≈ 314 px; the chamfer metric is within a few percent of Euclidean.
  assert.ok(Math.abs(maskArea(d) - Math.PI * 100) / (Math.PI * 100) < 0.06, `area ${maskArea(d)}`);
  const disc = discMask(41, 41, 20, 20, 15);
  const e = erode(disc, 5);
  assert.ok(dice(e, discMask(41, 41, 20, 20, 10)) > 0.95);
});

test('open removes a thin bridge and small blob; close fills a narrow gap', () => {
  const m = discMask(80, 40, 20, 20, 15);
  for (let x = 35; x < 60; x++) m.data[20 * 80 + x] = 1; // 1-px bridge
  for (let y = 18; y < 23; y++) for (let x = 60; x < 65; x++) m.data[y * 80 + x] = 1; // 5×5 blob
  const o = open(m, 3);
  assert.is(labelComponents(o).components.length, 1);
  assert.ok(dice(o, discMask(80, 40, 20, 20, 15)) > 0.97);
  const gap = maskFrom(['###.###', '###.###', '###.###']);
  assert.is(maskArea(close(gap, 1.5)), 21);
});

test('otsu splits a bimodal histogram between the modes', () => {
  const v = new Uint8Array(1000);
  v.fill(40, 0, 700);
  v.fill(200, 700);
  const r = otsu(histogram(v));
  assert.ok(r.threshold >= 40 && r.threshold < 200);
  assert.ok(r.separability > 0.99);
});

test('decodeRgb names the file for a text file, a truncated JPEG; masks round-trip', async () => {
  const e1 = await rejection(() => decodeRgb(Buffer.from('hello, not an image'), { name: 'x.jpg' }));
  assert.instance(e1, ImageDecodeError);
  assert.match(e1.message, /^x\.jpg: not a readable image/);
  const jpg = await (await import('sharp')).default({ create: { width: 64, height: 64, channels: 3, background: '#a05080' } }).jpeg().toBuffer();
  const e2 = await rejection(() => decodeRgb(jpg.subarray(0, Math.floor(jpg.length / 2)), { name: 'cut.jpg' }));
  assert.instance(e2, ImageDecodeError);
  assert.match(e2.message, /^cut\.jpg: /);
  const m = discMask(30, 20, 10, 10, 6);
  const back = await decodeMask(await encodeMaskPng(m));
  assert.equal(Array.from(back.data), Array.from(m.data));
  assert.equal(maskBBox(m), { x: 4, y: 4, width: 13, height: 13 });
});

test('decodeRgb downscales above maxPixels and records the scale', async () => {
  const img = paint(400, 300, PLASMA, []);
  const big = await decodeRgb(await encodePng(img), { maxPixels: 30000 });
  assert.ok(big.width * big.height <= 30000);
  assert.is(big.originalWidth, 400);
  assert.ok(Math.abs(big.scale - big.width / 400) < 1e-9);
});

test('perceptual hash: re-encoded copy is near, a different image is far', async () => {
  const sharp = (await import('sharp')).default;
  const a = paint(120, 120, PLASMA, [{ cx: 50, cy: 60, r: 30, rgb: NUCLEUS }]);
  const b = paint(120, 120, PLASMA, [{ cx: 85, cy: 30, r: 20, rgb: NUCLEUS }, { cx: 20, cy: 100, r: 15, rgb: NUCLEUS }]);
  const pa = await encodePng(a);
  const reencoded = await sharp(pa).jpeg({ quality: 70 }).resize(100, 100).toBuffer();
  const ha = await perceptualHash(pa);
  assert.ok(hammingDistance(ha, await perceptualHash(reencoded)) <= 4);
  assert.ok(hammingDistance(ha, await perceptualHash(await encodePng(b))) > 10);
  assert.is(hammingDistance('ffffffffffffffff', '0000000000000000'), 64);
});

test('affine: identity draw leaves pixels unchanged; flip twice is identity; inverse composes to identity', () => {
  const img = paint(16, 12, PLASMA, [{ cx: 4, cy: 3, r: 2, rgb: NUCLEUS }]);
  const id = augmentMatrix({ rotation: 0, tx: 0, ty: 0, shear: 0, flipH: false, flipV: false }, 16, 12);
  assert.equal(Array.from(warpAffine(img, id).data), Array.from(img.data));
  const flip = augmentMatrix({ rotation: 0, tx: 0, ty: 0, shear: 0, flipH: true, flipV: false }, 16, 12);
  const twice = warpAffine(warpAffine(img, flip), flip);
  assert.equal(Array.from(twice.data), Array.from(img.data));
  const m = augmentMatrix({ rotation: 17, tx: 3, ty: -2, shear: 5, flipH: false, flipV: true }, 16, 12);
  const c = compose(m, invert(m));
  [1, 0, 0, 0, 1, 0].forEach((v, i) => assert.ok(Math.abs(c[i]! - v) < 1e-9));
  // A shift by +3 px moves the disc's left edge three pixels right; the vacated column is white fill.
  const shifted = warpAffine(img, augmentMatrix({ rotation: 0, tx: 3, ty: 0, shear: 0, flipH: false, flipV: false }, 16, 12));
  assert.equal(Array.from(shifted.data.subarray(0, 3)), [255, 255, 255]);
  assert.equal(Array.from(shifted.data.subarray(3 * (3 * 16 + 7), 3 * (3 * 16 + 7) + 3)), Array.from(img.data.subarray(3 * (3 * 16 + 4), 3 * (3 * 16 + 4) + 3)));
});

test('rng is seeded and stable; unitHash is in [0,1)', () => {
  const a = mulberry32(42), b = mulberry32(42);
  const xs = [a(), a(), a()];
  assert.equal(xs, [b(), b(), b()]);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.is(unitHash('k'), unitHash('k'));
});

test.run();

test('dilate/erode on the window around the mask and the framed fillHoles equal the whole-image transforms', () => {
  const rnd = mulberry32(7);
  const reference = {
    dilate: (m: ReturnType<typeof createMask>, r: number) => distanceTo(m, 1).map((d) => (d <= r ? 1 : 0)),
    erode: (m: ReturnType<typeof createMask>, r: number) => distanceTo(m, 0).map((d) => (d > r ? 1 : 0)),
    fillHoles(m: ReturnType<typeof createMask>) {
      const { width: w, height: h } = m;
      const out = new Uint8Array(w * h).fill(1);
      const todo: number[] = [];
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x === 0 || y === 0 || x === w - 1 || y === h - 1) && !m.data[y * w + x]) todo.push(y * w + x);
      while (todo.length) {
        const p = todo.pop()!;
        if (!out[p]) continue;
        out[p] = 0;
        const x = p % w, y = Math.floor(p / w);
        for (const [nx, ny] of [[x - 1, y], [x + 1, y], [x, y - 1], [x, y + 1]] as const) if (nx >= 0 && ny >= 0 && nx < w && ny < h && !m.data[ny * w + nx] && out[ny * w + nx]) todo.push(ny * w + nx);
      }
      return out;
    },
  };
  for (let k = 0; k < 40; k++) {
    const w = 20 + Math.floor(rnd() * 60), h = 20 + Math.floor(rnd() * 60);
    const m = createMask(w, h);
    // Rings and discs, some cut by the image border, some small in a large image.
    for (let b = 0; b < 1 + Math.floor(rnd() * 4); b++) {
      const cx = rnd() * w * 1.2 - 0.1 * w, cy = rnd() * h * 1.2 - 0.1 * h, r = 2 + rnd() * 0.3 * Math.min(w, h), hole = rnd() < 0.5 ? 0.5 * r : 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { const d = Math.hypot(x - cx, y - cy); if (d <= r && d >= hole) m.data[y * w + x] = 1; }
    }
    const r = 0.5 + rnd() * 8;
    assert.equal([...dilate(m, r).data], [...reference.dilate(m, r)], `dilate #${k}`);
    assert.equal([...erode(m, r).data], [...reference.erode(m, r)], `erode #${k}`);
    assert.equal([...fillHoles(m).data], [...reference.fillHoles(m)], `fillHoles #${k}`);
  }
});
