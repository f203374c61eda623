// The shape of pipeline.json (schemas/pipeline.schema.json is the authority; these mirror it).

export type MatrixValue = string | number | boolean;

export interface MatrixFrom {
  /** One stage, or several whose instances are concatenated (e.g. train and ensemble). */
  from: string | string[];
}

export interface MatrixAxes {
  include?: Record<string, MatrixValue>[];
  exclude?: Record<string, MatrixValue>[];
  /** Values, or `"${vars.x}"` naming a list in vars. */
  [axis: string]: MatrixValue[] | Record<string, MatrixValue>[] | string | undefined;
}

export type MatrixConfig = MatrixFrom | MatrixAxes;

export interface InputFromDep {
  from: string;
  glob: string;
}

export type InputSpec = string | InputFromDep;

export interface StageConfig {
  id: string;
  description?: string;
  module?: string;
  command?: string;
  perItem?: boolean;
  /** A list of selectors (each named by its stage id), or alias → selector. */
  deps?: string[] | Record<string, string>;
  inputs?: InputSpec[];
  params?: Record<string, unknown>;
  outputs?: string[];
  publish?: string;
  matrix?: MatrixConfig;
  resources?: StageResources;
  env?: string[];
}

export interface StageResources {
  gpu?: number;
  cpu?: number;
  /** Slurm only: memory (`--mem`, e.g. "8G"), wall time (`--time`), partition. */
  mem?: string;
  time?: string;
  partition?: string;
}

export interface SlurmConfig {
  partition?: string;
  account?: string;
  time?: string;
  mem?: string;
  /** Further sbatch options, passed as given (e.g. ["--qos=short"]). */
  args?: string[];
  /** Most jobs in the queue at once (default 32). */
  jobs?: number;
}

export interface ExecutorConfig {
  /** What `pipe run` uses without --executor (default "local"). */
  default?: 'local' | 'slurm';
  slurm?: SlurmConfig;
}

export interface ProfileConfig {
  description?: string;
  params?: Record<string, unknown>;
  matrix?: Record<string, MatrixConfig>;
}

export interface PipelineConfig {
  $schema?: string;
  description?: string;
  env?: string[];
  stages: StageConfig[];
  commands?: Record<string, { module: string; description?: string }>;
  profiles?: Record<string, ProfileConfig>;
  /** Values shared by several stages (`${vars.x}`); overridden by profiles and `--set vars.x=…`. */
  vars?: Record<string, unknown>;
  executor?: ExecutorConfig;
  remoteCache?: import('../store/remote-cache.js').RemoteCacheConfig;
}
