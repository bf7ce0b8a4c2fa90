/**
 * @module Every error a client of the server can see: its wire code, its HTTP status (decided here
 * and nowhere else) and the `{ error: { code, message, problems? } }` body.
 */
import { RecsignalError, type Problem } from '../core/errors.ts';

/** Wire codes: the RecsignalError codes a request can cause, plus the HTTP-level ones. */
export type WireCode =
  | 'INVALID_JSON'
  | 'INVALID_INPUT'
  | 'INVALID_ARGUMENT'
  | 'INVALID_EVENT'
  | 'NOT_FOUND'
  | 'ROUTE_NOT_FOUND'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_READY'
  | 'UNAVAILABLE'
  | 'INTERNAL';

const STATUS: Readonly<Record<WireCode, number>> = {
  INVALID_JSON: 400,
  INVALID_INPUT: 400,
  INVALID_ARGUMENT: 400,
  INVALID_EVENT: 400,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_READY: 503,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export interface WireError {
  readonly status: number;
  readonly body: { readonly error: { readonly code: WireCode; readonly message: string; readonly problems?: readonly Problem[] } };
}

export function wireError(code: WireCode, message: string, problems: readonly Problem[] = []): WireError {
  return { status: STATUS[code], body: { error: problems.length > 0 ? { code, message, problems } : { code, message } } };
}

/** Maps anything a handler or fastify threw to its wire error. */
export function toWireError(e: unknown, bodyLimit: number): WireError {
  if (e instanceof RecsignalError) {
    const code: WireCode =
      e.code === 'INVALID_INPUT' || e.code === 'INVALID_ARGUMENT' || e.code === 'INVALID_EVENT' || e.code === 'NOT_FOUND'
        ? e.code
        : e.code === 'IO_FAILED' || e.code === 'QUERY_FAILED'
          ? 'UNAVAILABLE'
          : 'INTERNAL';
    return wireError(code, e.message, e.problems);
  }
  if (e instanceof SyntaxError) {
    return wireError('INVALID_JSON', `the body is not valid JSON (${e.message}); send one JSON document (or, to /v1/events, JSON lines with content-type application/x-ndjson)`);
  }
  const fastifyCode = (e as { code?: unknown } | null)?.code;
  switch (fastifyCode) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return wireError('BODY_TOO_LARGE', `the body is larger than the server's limit of ${bodyLimit} bytes; split the batch into smaller requests (or start the server with a larger --body-limit)`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return wireError('UNSUPPORTED_MEDIA_TYPE', 'unsupported content-type; send application/json (or application/x-ndjson to /v1/events)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return wireError('INVALID_JSON', 'the body is empty or not valid JSON; send one JSON document');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return wireError('INVALID_INPUT', 'the body size does not match Content-Length; resend the request');
  }
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return wireError('INVALID_INPUT', (e as Error).message);
  return wireError('INTERNAL', `internal error: ${(e as Error)?.message ?? String(e)}; the server keeps serving, and the error is counted in /metrics`);
}

/** Shorthand for the request-validation failures handlers throw: every problem, each with its fix. */
export function invalidInput(what: string, problems: readonly Problem[]): RecsignalError {
  const first = problems[0];
  const summary = problems.length === 1 && first ? `${first.path}: ${first.message} (fix: ${first.fix})` : `${problems.length} problems; see problems`;
  return new RecsignalError('INVALID_INPUT', `${what}: ${summary}`, { problems });
}
