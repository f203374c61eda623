// `pipe`: the command-line entry. Heavy modules (ajv, esbuild, zx) load only when a command needs them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { flagHelp, parseArgs, UsageError, type FlagSpec } from './args.js';
import { PipelineError } from '../config/errors.js';
import { packageRoot } from '../store/paths.js';
import { runFlags } from './cmd-run.js';
import { watchFlags } from './cmd-watch.js';
import { mapBundleStack } from '../host/bundle-stack.js';

const common: FlagSpec[] = [
  { name: 'cwd', alias: 'C', type: 'string', value: 'dir', help: 'workspace folder (default: nearest folder upwards holding pipeline.json)' },
  { name: 'help', alias: 'h', type: 'bool', help: 'show help' },
];

interface CommandSpec {
  summary: string;
  usage: string;
  flags: FlagSpec[];
  details?: string;
}

const planFlags = runFlags.filter((f) => ['set', 'profile', 'gpus', 'jobs'].includes(f.name));

const commands: Record<string, CommandSpec> = {
  run: {
    summary: 'run the pipeline (or the given targets and what they need), skipping what is up to date',
    usage: 'pipe run [targets…] [options]',
    flags: runFlags,
    details: `Targets are stage ids (every instance), instance ids (train[arch=vgg16,mode=transfer]) or
selectors (train[mode=scratch]). Each instance ends as: up to date, restored (its key was seen before:
outputs come from the store), ran, failed, skipped (a dependency failed) or cancelled.`,
  },
  watch: {
    summary: 'rerun what file changes invalidate, as they happen (dataset curation)',
    usage: 'pipe watch [targets…] [--until stage] [options]',
    flags: watchFlags,
    details: `Watches the data folders, stage sources and pipeline.json the targets depend on. Each batch of
changes (closed by --debounce ms of quiet) starts a run that does only the invalidated work; an
instance whose inputs change while it runs is cancelled and scheduled again. Ctrl-C stops cleanly.`,
  },
  status: { summary: 'what a run would do, and why', usage: 'pipe status [targets…] [options]', flags: planFlags },
  explain: {
    summary: "an instance's cache key, field by field, against its last run",
    usage: 'pipe explain <instance> [options]',
    flags: planFlags,
    details: 'Shows which source files, params, input files, deps, env variables or runtime changed.',
  },
  dag: {
    summary: 'the graph of instances, as text or Mermaid',
    usage: 'pipe dag [targets…] [--mermaid] [--stages]',
    flags: [
      { name: 'mermaid', type: 'bool', help: 'print a Mermaid flowchart' },
      { name: 'stages', type: 'bool', help: 'one node per stage instead of per instance' },
      ...planFlags.filter((f) => f.name !== 'gpus' && f.name !== 'jobs'),
    ],
  },
  gc: {
    summary: 'remove store objects no current output or recent run refers to',
    usage: 'pipe gc [--keep-runs N] [--dry-run]',
    flags: [
      { name: 'keep-runs', type: 'string', value: 'N', help: 'also keep what the last N runs produced (default 5)' },
      { name: 'dry-run', alias: 'n', type: 'bool', help: 'report what would be freed' },
      { name: 'no-wait', type: 'bool', help: 'fail at once if a run holds the workspace' },
    ],
  },
};

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function findWorkspace(start: string): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pipeline.json'))) return dir;
    if (dirname(dir) === dir) return resolve(start);
  }
}

function mainHelp(custom: Record<string, { description?: string }> = {}): string {
  const rows = [...Object.entries(commands).map(([n, c]) => [n, c.summary] as const), ...Object.entries(custom).map(([n, c]) => [n, c.description ?? '(pipeline.json command)'] as const)];
  return `pipe ${version()}: content-hashed, make-like execution of pipeline.json

Usage: pipe <command> [options]

Commands:
${rows.map(([n, s]) => `  ${n.padEnd(10)}${s}`).join('\n')}

Options:
  -C, --cwd <dir>   workspace folder (default: nearest folder upwards holding pipeline.json)
  -h, --help        help for a command (pipe run --help)
  -V, --version     print the version
`;
}

function commandHelp(c: CommandSpec): string {
  return `${c.usage}\n\n${c.summary}\n${c.details ? `\n${c.details}\n` : ''}\nOptions:\n${flagHelp([...c.flags, ...common])}\n`;
}

function profilesHelp(ws: string): string {
  try {
    const profiles = (JSON.parse(readFileSync(join(ws, 'pipeline.json'), 'utf8')) as { profiles?: Record<string, { description?: string }> }).profiles ?? {};
    const rows = Object.entries(profiles).map(([n, p]) => `  ${n.padEnd(12)}${p.description ?? ''}`);
    return rows.length ? `\nProfiles (--profile):\n${rows.join('\n')}\n` : '';
  } catch {
    return '';
  }
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  // `--cwd` may come before the command.
  let cwd = process.cwd();
  while (argv[0] === '--cwd' || argv[0] === '-C') {
    cwd = resolve(argv[1] ?? '.');
    argv = argv.slice(2);
  }
  const name = argv[0];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const ws = findWorkspace(cwd);
    let custom = {};
    try {
      custom = (JSON.parse(readFileSync(join(ws, 'pipeline.json'), 'utf8')) as { commands?: object }).commands ?? {};
    } catch {}
    const topic = name === 'help' ? argv[1] : undefined;
    if (topic && commands[topic]) process.stdout.write(commandHelp(commands[topic]));
    else process.stdout.write(mainHelp(custom));
    return name ? 0 : 2;
  }
  const rest = argv.slice(1);
  const spec = commands[name];
  if (!spec) {
    const ws = findWorkspace(cwd);
    const { loadConfig } = await import('../config/config-load.js');
    const loaded = await loadConfig(ws);
    if (!loaded.config.commands?.[name]) throw new UsageError(`unknown command "${name}" (pipe --help lists them)`);
    const { cmdCustom } = await import('./cmd-custom.js');
    return cmdCustom(loaded, name, rest);
  }
  const p = parseArgs(rest, [...spec.flags, ...common]);
  if (p.flags.help) {
    process.stdout.write(commandHelp(spec));
    if (name === 'run') process.stdout.write(profilesHelp(findWorkspace(cwd)));
    return 0;
  }
  const workspace = findWorkspace(typeof p.flags.cwd === 'string' ? resolve(cwd, p.flags.cwd) : cwd);
  // Each command loads only its own modules, so `pipe status` starts without esbuild, chokidar or the executors.
  switch (name) {
    case 'run':
      return (await import('./cmd-run.js')).cmdRun(workspace, p, argv);
    case 'watch':
      return (await import('./cmd-watch.js')).cmdWatch(workspace, p, argv);
    case 'status':
      return (await import('./cmd-status.js')).cmdStatus(workspace, p, argv);
    case 'explain':
      return (await import('./cmd-explain.js')).cmdExplain(workspace, p, argv);
    case 'dag':
      return (await import('./cmd-dag.js')).cmdDag(workspace, p);
    case 'gc':
      return (await import('./cmd-gc.js')).cmdGc(workspace, p);
    default:
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`pipe: ${e.message}\n`);
      process.exitCode = 2;
    } else if (e instanceof PipelineError) {
      process.stderr.write(`pipe: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      // A command's stack names its .ts sources (the bundle's inline map), as a stage's does.
      process.stderr.write(`pipe: internal error: ${(e as Error)?.stack ? mapBundleStack((e as Error).stack!) : String(e)}\n`);
      process.exitCode = 70;
    }
  },
);
