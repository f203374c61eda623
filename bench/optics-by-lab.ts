// How each lab's optics show in its cells: the no-reference blur σ (bench/lib/blur-estimate.ts) of every cell
// under DIR/<lab>/<CLASS>/*.png as quantiles, and how many cells have their red and blue channels aligned with
// the green one (bench/lib/channel-shift.ts; every 4th cell, the check is slow).
//   node --import tsx bench/optics-by-lab.ts artifacts/stages/segment/cells     # as segmented
//   node --import tsx bench/optics-by-lab.ts artifacts/stages/normalize/cells   # after normalize's low-pass
import fg from 'fast-glob';
import sharp from 'sharp';
import { estimateBlurSigma } from './lib/blur-estimate.js';
import { bestChannelShift } from './lib/channel-shift.js';

const root = process.argv[2] ?? 'artifacts/stages/segment/cells';
const labs = fg.sync(`${root}/*`, { onlyDirectories: true }).map((d) => d.slice(root.length + 1)).sort();
console.log('| lab | cells with an estimate | σ p10 | p25 | median | p75 | p90 | red and blue aligned with green (every 4th cell) | commonest other shift, blue (dx, dy) |');
console.log('|---|--:|--:|--:|--:|--:|--:|--:|---|');
for (const lab of labs) {
  const files = fg.sync(`${root}/${lab}/*/*.png`).sort();
  const sigmas: number[] = [];
  let checked = 0, aligned = 0;
  const blueShifts = new Map<string, number>();
  for (const [i, f] of files.entries()) {
    const { data, info } = await sharp(f).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const s = estimateBlurSigma(rgb, info.width, info.height);
    if (s !== null) sigmas.push(s);
    if (i % 4) continue;
    const red = bestChannelShift(rgb, info.width, info.height, 0), blue = bestChannelShift(rgb, info.width, info.height, 2);
    checked++;
    if (!red.dx && !red.dy && !blue.dx && !blue.dy) aligned++;
    if (blue.dx || blue.dy) blueShifts.set(`(${blue.dx}, ${blue.dy})`, (blueShifts.get(`(${blue.dx}, ${blue.dy})`) ?? 0) + 1);
  }
  sigmas.sort((a, b) => a - b);
  const q = (p: number) => sigmas[Math.floor(p * (sigmas.length - 1))]?.toFixed(2) ?? 'n/a';
  const [shift, count] = [...blueShifts].sort((a, b) => b[1] - a[1])[0] ?? ['—', 0];
  console.log(`| ${lab} | ${sigmas.length} of ${files.length} | ${q(0.1)} | ${q(0.25)} | ${q(0.5)} | ${q(0.75)} | ${q(0.9)} | ${aligned} of ${checked} | ${shift}${count ? ` in ${count}` : ''} |`);
}
