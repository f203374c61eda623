// Errors meant for the user: the CLI prints their message without a stack trace.

export class PipelineError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'PipelineError';
  }
}

/** Several problems found in pipeline.json, reported together before anything runs. */
export class ConfigErrors extends PipelineError {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigErrors';
  }
}
