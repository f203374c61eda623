import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toCanonicalCell } from '../../stages/lib/cell/cell-representation.js';
import { encodePng } from '../../stages/lib/image/decode.js';
import vocCrops from '../../stages/voc-crops.js';
import { parseVoc, readLabels } from '../../stages/lib/cell/voc-crop.js';
import { groupKey, DEFAULT_GROUP_PATTERN } from '../../stages/split.js';
import { inputFile, makeContext, runPerItem, tempDir } from './context.js';
import { CYTOPLASM, NUCLEUS, paint } from './synthetic.js';

const voc = (file: string, objects: Array<[string, number, number, number, number]>) =>
  `<annotation><filename>${file}</filename><size><width>300</width><height>200</height><depth>3</depth></size>` +
  objects.map(([n, a, b, c, d]) => `<object><name>${n}</name><bndbox><xmin>${a}</xmin><ymin>${b}</ymin><xmax>${c}</xmax><ymax>${d}</ymax></bndbox></object>`).join('') +
  '</annotation>';

test('parseVoc reads file name, size and boxes; names what is missing', () => {
  const a = parseVoc(voc('s.jpg', [['WBC', 1, 2, 30, 40], ['RBC', 5, 5, 9, 9]]));
  assert.is(a.filename, 's.jpg');
  assert.equal(a.objects[0], { name: 'WBC', xmin: 1, ymin: 2, xmax: 30, ymax: 40 });
  assert.throws(() => parseVoc('<annotation></annotation>', 'x.xml'), /x\.xml: no <filename>/);
  const labels = readLabels('image,class,object\nsmear.jpg,NEUTROPHIL,\nsmear.jpg,LYMPHOCYTE,1\n', 'l.csv');
  assert.is(labels.get('smear'), 'NEUTROPHIL');
  assert.is(labels.get('smear#1'), 'LYMPHOCYTE');
});

test('voc-crops cuts labelled WBC boxes into an ImageFolder; crops of one smear share a group; BCCD crop segments', async () => {
  const ws = tempDir();
  const root = path.join(ws, 'voc');
  mkdirSync(path.join(root, 'Annotations'), { recursive: true });
  mkdirSync(path.join(root, 'JPEGImages'), { recursive: true });
  // A real BCCD smear (640×480, one WBC box) and a synthetic smear with two leukocytes.
  copyFileSync('data/bccd/BCCD/Annotations/BloodImage_00000.xml', path.join(root, 'Annotations/BloodImage_00000.xml'));
  copyFileSync('data/bccd/BCCD/JPEGImages/BloodImage_00000.jpg', path.join(root, 'JPEGImages/BloodImage_00000.jpg'));
  const smear = paint(300, 200, [240, 226, 205], [
    { cx: 60, cy: 100, r: 35, rgb: CYTOPLASM }, { cx: 60, cy: 100, r: 18, rgb: NUCLEUS },
    { cx: 220, cy: 90, r: 30, rgb: CYTOPLASM }, { cx: 222, cy: 88, r: 15, rgb: NUCLEUS },
  ]);
  writeFileSync(path.join(root, 'JPEGImages/two.jpg'), await sharp(await encodePng(smear)).jpeg({ quality: 95 }).toBuffer());
  writeFileSync(path.join(root, 'Annotations/two.xml'), voc('two.jpg', [['RBC', 0, 0, 20, 20], ['WBC', 25, 65, 95, 135], ['WBC', 190, 60, 250, 120]]));
  writeFileSync(path.join(root, 'Annotations/missing.xml'), voc('nowhere.jpg', [['WBC', 1, 1, 50, 50]]));
  writeFileSync(path.join(root, 'Annotations/broken.xml'), '<annotation><object></object>');
  writeFileSync(path.join(ws, 'labels.csv'), 'image,class,object\nBloodImage_00000.jpg,NEUTROPHIL,\ntwo.jpg,MONOCYTE,0\ntwo.jpg,LYMPHOCYTE,1\n');
  const inputs = ['BloodImage_00000.xml', 'broken.xml', 'missing.xml', 'two.xml'].map((f) => inputFile(ws, path.join(root, 'Annotations', f)));
  const ctx = makeContext('voc-crops', { vocRoot: 'voc', labels: 'labels.csv' }, { workspace: ws, inputs });
  await runPerItem(vocCrops, ctx);
  for (const f of ['crops/NEUTROPHIL/BloodImage_00000__crop0.png', 'crops/MONOCYTE/two__crop0.png', 'crops/LYMPHOCYTE/two__crop1.png']) assert.ok(existsSync(path.join(ctx.outDir, f)), f);
  const m = await sharp(path.join(ctx.outDir, 'crops/MONOCYTE/two__crop0.png')).metadata();
  assert.equal([m.width, m.height], [92, 92]); // 70 px box + 10.5 px on each side, widened to whole pixels
  assert.match(JSON.parse(readFileSync(path.join(ctx.outDir, 'records/missing.json'), 'utf8')).error, /does not exist/);
  assert.match(JSON.parse(readFileSync(path.join(ctx.outDir, 'records/broken.json'), 'utf8')).error, /no <filename>/);
  const g = (f: string) => groupKey({ file: f, sha256: 'x' }, new RegExp(DEFAULT_GROUP_PATTERN));
  assert.is(g('crops/MONOCYTE/two__crop0.png'), g('crops/LYMPHOCYTE/two__crop1.png'));
  // The canonical cell of a real BCCD crop (other stain and magnification) is found.
  const cell = await toCanonicalCell(readFileSync(path.join(ctx.outDir, 'crops/NEUTROPHIL/BloodImage_00000__crop0.png')), { size: 64 });
  assert.is(cell.status, 'ok');
  assert.ok(cell.record.cellArea > 0.1 * 231 * 199, `cell area ${cell.record.cellArea}`);
});

test.run();
