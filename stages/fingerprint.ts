// fingerprint (per item): what the audit needs to know of each file of the dataset — decodable or
// not, pixel size, perceptual hash — computed once per file content and cached by the runner per item.
// The audit itself compares all files with each other, so it must see every file each time; with the
// fingerprints cached, adding one image to a 5,000-image dataset decodes one image, not 5,000.
//
// Output: fingerprints/<workspace-relative path>.json per input file.
import { definePerItemStage } from '../pipeline/stage-api.js';
import { json, writeAllOrNothing } from './lib/io/item-files.js';
import { fingerprintFile, fingerprintPath } from './lib/records/fingerprint.js';

export interface FingerprintParams {
  /** Informational; the inputs say which files. */
  dataRoot?: string;
}

export default definePerItemStage<FingerprintParams>({
  paramsSchema: { type: 'object', properties: { dataRoot: { type: 'string' } } },

  async processItems(ctx, items) {
    let done = 0;
    for (const item of items) {
      if (ctx.signal.aborted) return;
      const print = await fingerprintFile(item.input, item.input.rel);
      await writeAllOrNothing(item.outDir, { [fingerprintPath(item.input.rel)]: json(print) });
      ctx.progress(++done, items.length, 'fingerprint');
    }
  },
});
