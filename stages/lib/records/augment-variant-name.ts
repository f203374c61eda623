// The file name of an augmented variant, as augment writes it and as the stages that treat variants
// differently (features computing only the first few) read it: `variants/<cell key>__v<k>.png`, where
// the cell key is the cell's path below its stage folder without extension (`<lab>/<CLASS>/<stem>`).

export function variantFileName(cellKey: string, k: number): string {
  return `variants/${cellKey}__v${k}.png`;
}

/** The path of the original cell a variant was made from (`…/<stem>__v<k>.png` → `…/<stem>.png`); other paths unchanged. */
export function originalOfVariant(rel: string): string {
  return rel.replace(/__v\d+\.png$/, '.png');
}

/** The variant number `k` of an augment output file, or null for any other file (an original cell). */
export function variantIndexOf(rel: string): number | null {
  const match = /__v(\d+)\.png$/.exec(rel);
  return match ? Number(match[1]) : null;
}
