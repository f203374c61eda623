// The normalize and shifted stages run with a real StageContext over files in a temporary workspace.
import { fakeStageContext } from '../fake-stage-context.js';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fg from 'fast-glob';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DepOutput, InputFile, StageContext } from '../../pipeline/stage-api.js';
import { decodeRgb, encodePng } from '../../stages/lib/image/decode.js';
import { cellMask } from '../../stages/lib/stain/cell-mask.js';
import { normalizeCell } from '../../stages/lib/stain/normalize-cell.js';
import normalizeStage from '../../stages/normalize.js';
import shiftedStage, { type ShiftedParams } from '../../stages/shifted.js';
import { cellOnWhite, isWhite, smearCrop } from './synthetic-cells.js';

function context<P>(workspace: string, outDir: string, params: P, extra: { deps?: Record<string, DepOutput> } = {}): StageContext<P> {
  return fakeStageContext({
    instanceId: 'test',
    stageId: 'test',
    matrix: {},
    params,
    workspace,
    outDir,
    stateDir: path.join(workspace, '.state'),
    inputs: [],
    deps: extra.deps ?? {},
    resources: { gpu: [], cpu: 1 },
  });
}

test('normalize writes each cell at the same relative path with a white background, and normalize.json', async () => {
  const ws = await mkdtemp(path.join(tmpdir(), 'norm-'));
  try {
    const src = path.join(ws, 'segment', 'cells', 'LYMPHOCYTE', 'LY_1.png');
    await mkdir(path.dirname(src), { recursive: true });
    await writeFile(src, await encodePng(cellOnWhite(40, [80, 80, 170])));
    const input: InputFile = { path: src, rel: 'cells/LYMPHOCYTE/LY_1.png', hash: 'x' };
    const itemOut = path.join(ws, 'item');
    const ctx = context(ws, path.join(ws, 'out'), { method: 'reinhard' as const });
    await normalizeStage.processItems(ctx, [{ input, outDir: itemOut }]);
    const written = path.join(itemOut, 'cells', 'LYMPHOCYTE', 'LY_1.png');
    assert.ok(existsSync(written), 'output at the same relative path');
    const img = await decodeRgb(await readFile(written));
    assert.is(img.width, 40);
    assert.ok(isWhite(img.data, 0), 'background white');
    const centre = (20 * 40 + 20) * 3;
    assert.not.equal([...img.data.subarray(centre, centre + 3)], [80, 80, 170], 'cell recoloured');
    await mkdir(ctx.outDir, { recursive: true });
    await normalizeStage.finalize!(ctx, [{ input, files: ['cells/LYMPHOCYTE/LY_1.png'] }]);
    const used = JSON.parse(await readFile(path.join(ctx.outDir, 'normalize.json'), 'utf8'));
    assert.is(used.method, 'reinhard');
    assert.is(used.whiteThreshold, 245);
    assert.is(used.reference.lab.mean.length, 3);
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
});

test('normalize with blurSigma records it in normalize.json, and the recorded params give predict the same bytes', async () => {
  const ws = await mkdtemp(path.join(tmpdir(), 'norm-blur-'));
  try {
    const src = path.join(ws, 'segment', 'cells', 'pbc', 'LYMPHOCYTE', 'LY_1.png');
    await mkdir(path.dirname(src), { recursive: true });
    const cell = cellOnWhite(40, [80, 80, 170]);
    await writeFile(src, await encodePng(cell));
    const input: InputFile = { path: src, rel: 'cells/pbc/LYMPHOCYTE/LY_1.png', hash: 'x' };
    const ctx = context(ws, path.join(ws, 'out'), { method: 'reinhard' as const, blurSigma: 2 });
    await normalizeStage.processItems(ctx, [{ input, outDir: path.join(ws, 'item') }]);
    const written = await decodeRgb(await readFile(path.join(ws, 'item', 'cells', 'pbc', 'LYMPHOCYTE', 'LY_1.png')));
    const sharp = normalizeCell(cell.data, 40, 40, { method: 'reinhard' });
    assert.not.equal([...written.data], [...sharp], 'the low-pass changed the cell');
    await mkdir(ctx.outDir, { recursive: true });
    await normalizeStage.finalize!(ctx, [{ input, files: ['cells/pbc/LYMPHOCYTE/LY_1.png'] }]);
    const used = JSON.parse(await readFile(path.join(ctx.outDir, 'normalize.json'), 'utf8'));
    assert.is(used.blurSigma, 2);
    // evaluate and `pipe predict` apply the recorded params to a foreign cell: the same bytes as the stage.
    assert.equal([...normalizeCell(cell.data, 40, 40, used)], [...written.data]);
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
});

test('normalize names the file when a cell cannot be decoded', async () => {
  const ws = await mkdtemp(path.join(tmpdir(), 'norm-'));
  try {
    const src = path.join(ws, 'bad.png');
    await writeFile(src, 'not an image');
    const ctx = context(ws, path.join(ws, 'out'), { method: 'none' as const });
    let message = '';
    await normalizeStage
      .processItems(ctx, [{ input: { path: src, rel: 'cells/EOSINOPHIL/bad.png', hash: 'x' }, outDir: path.join(ws, 'item') }])
      .catch((e: Error) => (message = e.message));
    assert.match(message, /cells\/EOSINOPHIL\/bad\.png/);
    assert.not.ok(existsSync(path.join(ws, 'item', 'cells', 'EOSINOPHIL', 'bad.png')), 'nothing half-written');
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
});

async function shiftedWorkspace(): Promise<{ ws: string; deps: Record<string, DepOutput>; testOrigins: string[]; trainOrigins: string[] }> {
  const ws = await mkdtemp(path.join(tmpdir(), 'shifted-'));
  const origins: string[] = [];
  for (const [k, cls] of ['EOSINOPHIL', 'NEUTROPHIL', 'EOSINOPHIL', 'NEUTROPHIL', 'LYMPHOCYTE'].entries()) {
    const rel = `data/pbc/${cls}/IMG_${k}.jpg`;
    await mkdir(path.join(ws, path.dirname(rel)), { recursive: true });
    const crop = smearCrop(96, k);
    await writeFile(path.join(ws, rel), await (await import('sharp')).default(crop.data, { raw: { width: 96, height: 96, channels: 3 } }).jpeg({ quality: 95 }).toBuffer());
    origins.push(rel);
  }
  const testOrigins = [origins[0]!, origins[1]!, origins[4]!];
  const trainOrigins = [origins[2]!, origins[3]!];
  const splitDir = path.join(ws, 'split-out');
  await mkdir(splitDir, { recursive: true });
  const row = (o: string) => {
    const cls = o.split('/')[2]!;
    const stem = path.basename(o, '.jpg');
    return `segment/cells/${cls}/${stem}.png,${cls},pbc,${stem},${o}`;
  };
  await writeFile(path.join(splitDir, 'test.csv'), ['file,class,lab,group,origin', ...testOrigins.map(row)].join('\n') + '\n');
  await writeFile(path.join(splitDir, 'train.csv'), ['file,class,lab,group,origin', ...trainOrigins.map(row)].join('\n') + '\n');
  const deps: Record<string, DepOutput> = {
    split: { instanceId: 'split', stageId: 'split', matrix: {}, dir: splitDir, name: 'split', key: 'test-key', created: null, seconds: null },
    segment: { instanceId: 'segment', stageId: 'segment', matrix: {}, dir: path.join(ws, 'segment-out'), name: 'segment', key: 'test-key', created: null, seconds: null },
  };
  return { ws, deps, testOrigins, trainOrigins };
}

test('shifted builds every set only from test-split originals, with sets.json describing them', async () => {
  const { ws, deps, testOrigins } = await shiftedWorkspace();
  try {
    const out = path.join(ws, 'out');
    await mkdir(out, { recursive: true });
    await shiftedStage.run(context<ShiftedParams>(ws, out, { seed: 1 }, { deps }));
    const files = (await fg('sets/**/*.png', { cwd: out })).sort();
    const summary = JSON.parse(await readFile(path.join(out, 'sets.json'), 'utf8'));
    assert.equal(summary.sets.map((s: { source: string }) => s.source), ['stain-shift', 'scale-shift', 'white-tight', 'blur-jpeg']);
    // Every image names a test original, and every test original appears in every set it could be made for.
    const origins = new Set(summary.items.map((i: { origin: string }) => i.origin));
    assert.equal([...origins].sort(), [...testOrigins].sort());
    assert.is(files.length, summary.items.length);
    for (const s of ['stain-shift', 'scale-shift', 'blur-jpeg']) {
      assert.equal(files.filter((f) => f.startsWith(`sets/${s}/`)), [
        `sets/${s}/EOSINOPHIL/IMG_0.png`,
        `sets/${s}/LYMPHOCYTE/IMG_4.png`,
        `sets/${s}/NEUTROPHIL/IMG_1.png`,
      ]);
    }
    assert.ok(!files.some((f) => f.includes('IMG_2') || f.includes('IMG_3')), 'no train original used');
    // white-tight: the cell on pure white, cropped tighter than the 96 px original.
    const tight = summary.items.filter((i: { source: string }) => i.source === 'white-tight');
    assert.is(tight.length + summary.sets[2].skipped, 3);
    assert.ok(tight.length >= 1, 'the synthetic leukocyte is found');
    for (const t of tight) {
      const img = await decodeRgb(await readFile(path.join(out, t.file)));
      // JPEG ringing may darken the white border a little; the cell itself is far darker than 220.
      const mask = cellMask(img.data, img.width, img.height, 220);
      let border = 0;
      for (let x = 0; x < img.width; x++) border += mask[x]! + mask[(img.height - 1) * img.width + x]!;
      assert.is(border, 0, `${t.file}: top and bottom rows are (near) white`);
      const scaleRatio = img.width / (t.draw.scale as number);
      assert.ok(scaleRatio < 70, `${t.file}: tight crop (width ${img.width} at scale ${t.draw.scale})`);
    }
    const scaled = summary.items.filter((i: { source: string }) => i.source === 'scale-shift');
    for (const s of scaled) assert.is(s.width, Math.round(96 * (s.draw.scale as number)));
    assert.ok(existsSync(path.join(out, 'contact-sheet-white-tight.jpg')));
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
});

test('shifted is deterministic for a seed and changes with it', async () => {
  const { ws, deps } = await shiftedWorkspace();
  try {
    const run = async (seed: number, name: string) => {
      const out = path.join(ws, name);
      await mkdir(out, { recursive: true });
      await shiftedStage.run(context<ShiftedParams>(ws, out, { seed, sources: ['stain-shift'], contactSheetPerClass: 0 }, { deps }));
      return readFile(path.join(out, 'sets/stain-shift/EOSINOPHIL/IMG_0.png'));
    };
    const a = await run(1, 'a');
    const b = await run(1, 'b');
    const c = await run(2, 'c');
    assert.ok(a.equals(b), 'same seed, same bytes');
    assert.not.ok(a.equals(c), 'other seed, other image');
    assert.not.ok(existsSync(path.join(ws, 'a', 'sets', 'blur-jpeg')), 'only the requested source');
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
});

test('shifted fails with the CSV row when a test row has no origin', async () => {
  const { ws, deps } = await shiftedWorkspace();
  try {
    await writeFile(path.join(deps.split!.dir, 'test.csv'), 'file,class,lab,group,origin\nsegment/cells/EOSINOPHIL/X.png,EOSINOPHIL,pbc,X,\n');
    let message = '';
    await shiftedStage.run(context<ShiftedParams>(ws, path.join(ws, 'o'), { seed: 1 }, { deps })).catch((e: Error) => (message = e.message));
    assert.match(message, /test\.csv/);
    assert.match(message, /row 2 has no origin/);
  } finally {
    await rm(ws, { recursive: true, force: true });
  }
});

test.run();
