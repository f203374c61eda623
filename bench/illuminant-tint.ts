// A warmer (or cooler) lamp: PBC's test-split originals written twice under OUT, as they are (OUT/plain) and with
// every pixel's channels scaled by GAINS (OUT/tinted, background included), named <CLASS>__<file>.png so that the
// true class can be read back from `pipe predict`'s output. Then both folders go through `pipe predict` and the
// script counts the right answers.
//   node --import tsx bench/illuminant-tint.ts /tmp/tint 1,0.88,0.65     # yellowish: blue down by a third
import sharp from 'sharp';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseCsv } from '../stages/lib/io/csv.js';
import { readSplitCsv } from '../stages/lib/records/split-csv.js';

const out = process.argv[2] ?? '/tmp/leukopipe-tint';
const gains = (process.argv[3] ?? '1,0.88,0.65').split(',').map(Number);
if (gains.length !== 3 || gains.some((g) => !(g > 0))) throw new Error(`GAINS must be three positive numbers, got ${process.argv[3]}`);
const pbc = readSplitCsv('artifacts/stages/split/test.csv').filter((r) => r.lab === 'pbc');
rmSync(out, { recursive: true, force: true });
for (const dir of ['plain', 'tinted']) mkdirSync(path.join(out, dir), { recursive: true });
for (const r of pbc) {
  // The split's origin column names the lab stage's copy of the original image.
  const src = path.join('artifacts/stages', r.origin);
  const name = `${r.class}__${path.basename(src).replace(/\.\w+$/, '')}.png`;
  const { data, info } = await sharp(src).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const tinted = Buffer.from(data);
  for (let i = 0; i < tinted.length; i++) tinted[i] = Math.min(255, Math.round(tinted[i]! * gains[i % 3]!));
  const raw = { raw: { width: info.width, height: info.height, channels: 3 as const } };
  await sharp(data, raw).png().toFile(path.join(out, 'plain', name));
  await sharp(tinted, raw).png().toFile(path.join(out, 'tinted', name));
}
for (const dir of ['plain', 'tinted']) {
  const predictions = path.join(out, `predictions-${dir}`);
  execFileSync('npx', ['pipe', 'predict', '--adapt', 'none', '--out', predictions, path.join(out, dir)], { stdio: 'ignore' });
  const rows = parseCsv(readFileSync(path.join(predictions, 'predictions.csv'), 'utf8'), 'predictions.csv');
  const right = rows.filter((r) => path.basename(r.file ?? '').split('__')[0] === r.predicted).length;
  console.log(`${dir}: ${right} of ${rows.length} right (gains ${dir === 'plain' ? '1,1,1' : gains.join(',')})`);
}
