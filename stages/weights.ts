// `weights` stage: the ImageNet weights of one architecture, as a file the next stages can load.
// Shipped weights (MobileNet α=0.25 and 0.75, ResNet50) are published as they are; Keras `.h5` files
// are taken from data/weights/keras/ (a declared input; never ~/.keras, which no key covers) after an
// md5 check, or downloaded when `download` is true.
// Missing weights do not fail the stage: `weights.json` says "missing" with the exact file to put
// where, and the stages that need the weights fail or skip with that message.
import { constants } from 'node:fs';
import { copyFile, cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineStage, StageError } from '../pipeline/stage-api.js';
import { getArchitecture } from './models/registry.js';
import {
  downloadKerasWeights,
  resolveImagenetWeights,
  type ResolvedWeights,
  type WeightsRecord,
} from './models/imagenet-weights.js';

export interface WeightsParams {
  /** Architecture name, e.g. `densenet121`. */
  arch: string;
  /** Fetch the Keras file (with md5 check) when it is not on disk. Never in tests or the default run. */
  download?: boolean;
}

const paramsSchema = {
  type: 'object',
  properties: {
    arch: { type: 'string', minLength: 1 },
    download: { type: 'boolean' },
  },
  required: ['arch'],
};

export default defineStage<WeightsParams>({
  paramsSchema,
  async run(ctx) {
    const { arch, download = false } = ctx.params;
    const spec = await getArchitecture(arch).catch((error: unknown) => {
      throw new StageError(error instanceof Error ? error.message : String(error), `${ctx.instanceId} params.arch`);
    });
    ctx.progress(0, 1, spec.name);
    let resolved: ResolvedWeights = await resolveImagenetWeights(spec, { workspace: ctx.workspace, verify: true });
    let source = resolved.path;

    if (resolved.status === 'missing' && download && spec.imagenet) {
      const wanted = spec.imagenet.notop;
      ctx.log(`downloading ${wanted.url}`);
      const fetched = await downloadKerasWeights(wanted, path.join(ctx.stateDir, 'download'));
      resolved = {
        status: 'present',
        path: fetched.path,
        format: 'keras-h5',
        includesTop: false,
        kerasFile: wanted,
        md5: fetched.md5,
        message: `downloaded ${wanted.url} (md5 checked)`,
      };
      source = wanted.url;
    }

    const record: WeightsRecord = {
      arch: spec.name,
      status: resolved.status,
      source: source && resolved.status === 'builtin' ? path.relative(ctx.workspace, source) : source,
      md5: resolved.md5,
      file: null,
      format: resolved.format,
      includesTop: resolved.includesTop,
      message: resolved.message,
    };
    const weightsOut = path.join(ctx.outDir, 'weights');
    if (resolved.status === 'builtin' && resolved.path) {
      const name = path.basename(resolved.path);
      await cp(resolved.path, path.join(weightsOut, name), { recursive: true });
      record.file = `weights/${name}`;
    } else if (resolved.status === 'present' && resolved.path) {
      await mkdir(weightsOut, { recursive: true });
      const name = path.basename(resolved.path);
      // Reflink where the filesystem supports it: VGG files are over 500 MB.
      await copyFile(resolved.path, path.join(weightsOut, name), constants.COPYFILE_FICLONE);
      record.file = `weights/${name}`;
    } else {
      ctx.warn(resolved.message);
    }
    await writeFile(path.join(ctx.outDir, 'weights.json'), JSON.stringify(record, null, 2) + '\n');
    ctx.log(`${spec.name}: ${record.status}${record.file ? ` → ${record.file}` : ''}`);
    ctx.progress(1, 1, spec.name);
  },
});
