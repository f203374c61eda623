// Keras gives unnamed layers `<prefix>`, `<prefix>_1`, `<prefix>_2`, … in creation order
// (per model here, so that every build names its layers the same way). Families whose Keras code
// leaves layers unnamed (InceptionV3, Xception shortcuts, DenseNet padding) use this to reproduce
// those names, so weights saved by Keras find their layers.
export class KerasAutoNames {
  private readonly counts = new Map<string, number>();

  next(prefix: string): string {
    const n = this.counts.get(prefix) ?? 0;
    this.counts.set(prefix, n + 1);
    return n === 0 ? prefix : `${prefix}_${n}`;
  }
}
