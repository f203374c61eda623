// Where the runner keeps things. The store lives under artifacts/; runner-private state under .pipe/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Root of the runner's own installation: the nearest folder above this module holding package.json, the
 * same from the bundle in dist/ as from the sources under pipeline/store/.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function schemaPath(): string {
  return join(packageRoot(), 'schemas', 'pipeline.schema.json');
}

export function stageHostPath(): string {
  return join(packageRoot(), 'dist', 'stage-host.js');
}

export class WorkspacePaths {
  constructor(readonly root: string) {}
  get pipeDir() { return join(this.root, '.pipe'); }
  get tmpDir() { return join(this.root, '.pipe', 'tmp'); }
  get bundlesDir() { return join(this.root, '.pipe', 'bundles'); }
  get stateDirRoot() { return join(this.root, '.pipe', 'state'); }
  get currentFile() { return join(this.root, '.pipe', 'current.json'); }
  get lockFile() { return join(this.root, '.pipe', 'lock'); }
  get artifacts() { return join(this.root, 'artifacts'); }
  get objectsDir() { return join(this.root, 'artifacts', 'objects'); }
  get manifestsDir() { return join(this.root, 'artifacts', 'manifests'); }
  get itemsDir() { return join(this.root, 'artifacts', 'items'); }
  get runsDir() { return join(this.root, 'artifacts', 'runs'); }
  get stagesDir() { return join(this.root, 'artifacts', 'stages'); }
  /** Commands' caches (CommandContext.cacheDir): derived, safe to delete. */
  get commandCachesDir() { return join(this.root, 'artifacts', 'cache'); }
  commandCache(command: string, codeHash: string) { return join(this.commandCachesDir, command, codeHash.slice(0, 16)); }
  object(hash: string) { return join(this.objectsDir, hash.slice(0, 2), hash.slice(2)); }
  manifest(key: string) { return join(this.manifestsDir, key.slice(0, 2), `${key.slice(2)}.json`); }
  itemManifest(key: string) { return join(this.itemsDir, key.slice(0, 2), `${key.slice(2)}.json`); }
  instanceDir(instanceId: string) { return join(this.stagesDir, instanceId); }
  stateDir(key: string) { return join(this.stateDirRoot, key.slice(0, 16)); }
}
