/** @module The one error type of recsignal: a typed code, a message that says how to fix it, and a cause. */

export type ErrorCode =
  | 'INVALID_EVENT'
  | 'INVALID_DEFINITION'
  | 'INVALID_ARGUMENT'
  | 'INVALID_INPUT'
  | 'QUERY_FAILED'
  | 'IO_FAILED'
  | 'NOT_FOUND'
  /** A check ran and did not pass (consistency mismatches): exit 1. */
  | 'CHECK_FAILED';

/** One problem found by a validation: where it is, what is wrong, and how to fix it. */
export interface Problem {
  readonly path: string;
  readonly message: string;
  readonly fix: string;
}

export class RecsignalError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly Problem[];
  readonly sql: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; problems?: readonly Problem[]; sql?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RecsignalError';
    this.code = code;
    this.problems = options.problems ?? [];
    this.sql = options.sql;
  }
}

/** Renders problems one a line, as the CLI prints them. */
export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `  - ${p.path}: ${p.message} (fix: ${p.fix})`).join('\n');
}

/** Throws one error listing every problem, or returns when there are none. */
export function throwIfProblems(code: ErrorCode, what: string, problems: readonly Problem[]): void {
  if (problems.length === 0) return;
  throw new RecsignalError(
    code,
    `${what}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${formatProblems(problems)}`,
    { problems },
  );
}
