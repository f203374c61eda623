// A small argv parser: flags declared per command, repeatable ones collected into arrays.

export interface FlagSpec {
  name: string;
  alias?: string;
  /** 'bool' takes no value; 'string' takes one; 'list' may repeat. */
  type: 'bool' | 'string' | 'list';
  help: string;
  value?: string;
}

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], specs: FlagSpec[]): Parsed {
  const flags: Parsed['flags'] = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    let name = a;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      name = a.slice(0, eq);
      value = a.slice(eq + 1);
    } else if (/^-[a-zA-Z]\d+$/.test(a)) {
      name = a.slice(0, 2);
      value = a.slice(2);
    }
    const spec = specs.find((s) => `--${s.name}` === name || (s.alias && `-${s.alias}` === name));
    if (!spec) throw new UsageError(`unknown option ${name}`);
    if (spec.type === 'bool') {
      if (value !== undefined) throw new UsageError(`${name} takes no value`);
      flags[spec.name] = true;
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value${spec.value ? ` (${spec.value})` : ''}`);
    }
    if (spec.type === 'list') ((flags[spec.name] ??= []) as string[]).push(value);
    else flags[spec.name] = value;
  }
  return { flags, positional };
}

export function flagHelp(specs: FlagSpec[]): string {
  const rows = specs.map((s) => {
    const left = `${s.alias ? `-${s.alias}, ` : '    '}--${s.name}${s.type === 'bool' ? '' : ` <${s.value ?? 'value'}>`}`;
    return [left, s.help] as const;
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([l, h]) => `  ${l.padEnd(w)}${h}`).join('\n');
}
