// `pipe <name> args…` for `commands.<name>` in pipeline.json: bundles the module and runs its
// default export (`defineCommand`) in this process, with a way to find instances' current outputs.
import { pathToFileURL } from 'node:url';
import type { LoadedConfig } from '../config/config-load.js';
import { CurrentState } from '../store/current-state.js';
import { PipelineError } from '../config/errors.js';
import { FileHashCache } from '../keys/file-hashes.js';
import { ModuleBundler } from '../keys/module-bundler.js';
import { WorkspacePaths } from '../store/paths.js';
import type { CommandContext, CommandModule } from '../stage-api.js';

export async function cmdCustom(loaded: LoadedConfig, name: string, argv: string[]): Promise<number> {
  const spec = loaded.config.commands?.[name];
  if (!spec) throw new PipelineError(`unknown command "${name}"`);
  const ws = new WorkspacePaths(loaded.workspace);
  const hashes = FileHashCache.forWorkspace(ws.root);
  const bundler = new ModuleBundler(ws, hashes);
  const b = await bundler.bundle(spec.module, `command "${name}"`);
  bundler.save();
  hashes.save();
  const mod = (await import(pathToFileURL(b.bundle).href)) as { default?: CommandModule };
  const cmd = mod.default;
  if (!cmd || cmd.kind !== 'command') throw new PipelineError(`command "${name}": ${spec.module} must \`export default defineCommand({...})\` (pipeline/stage-api.ts)`);
  if (argv.includes('--help') && cmd.usage) {
    process.stdout.write(`${cmd.usage}\n${spec.description ? `\n${spec.description}\n` : ''}`);
    return 0;
  }
  const current = new CurrentState(ws);
  const stageOrder = loaded.config.stages.map((s) => s.id);
  const ctx: CommandContext = {
    argv,
    workspace: ws.root,
    outputDir(instanceId) {
      const e = current.get(instanceId);
      if (!e || !current.verify(instanceId, e.key).ok) {
        throw Object.assign(new Error(`${instanceId} has no current outputs; run \`npx pipe run '${instanceId}'\` first`), { name: 'StageError' });
      }
      return ws.instanceDir(instanceId);
    },
    instances(stageId) {
      if (!stageOrder.includes(stageId)) throw Object.assign(new Error(`unknown stage "${stageId}"`), { name: 'StageError' });
      return Object.keys(current.all())
        .filter((id) => id === stageId || id.startsWith(`${stageId}[`))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    },
    cacheDir: ws.commandCache(name, b.codeHash),
    log: (m) => process.stdout.write(`${m}\n`),
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  };
  try {
    return (await cmd.run(ctx)) ?? 0;
  } catch (e) {
    const err = e as Error;
    if (err?.name === 'StageError') throw new PipelineError(`${name}: ${err.message}`, 1);
    throw e;
  }
}
