import { isKanaryError, KanaryError } from '../errors/kanary-error.ts';
import { redact, redactValue } from '../security/redact.ts';

/** The parts of a Kubernetes `Status` body worth keeping. */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
  details?: {
    name?: string;
    kind?: string;
    causes?: Array<{ field?: string; message?: string; reason?: string }>;
    retryAfterSeconds?: number;
  };
}

const NETWORK =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EAI_AGAIN|socket hang up|fetch failed|other side closed|terminated|network/i;

function parseStatus(body: unknown): KubeStatus | undefined {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as KubeStatus;
    } catch {
      return undefined;
    }
  }
  return typeof body === 'object' && body !== null ? (body as KubeStatus) : undefined;
}

/** An HTTP answer from the API server: Kanary's transport's `KubeHttpError`, or client-node's `ApiException`. */
interface HttpAnswer {
  code: number;
  body: unknown;
  headers?: Record<string, unknown>;
}
const isHttpAnswer = (e: unknown): e is HttpAnswer =>
  e instanceof Error && typeof (e as { code?: unknown }).code === 'number' && 'body' in e;

/**
 * The one place that turns what a request to the API server throws into a KanaryError: the
 * `Status` body parsed, the HTTP headers left out (client-node's message includes them all),
 * and `retryable` set for what may succeed if tried again.
 */
export function fromKubeError(error: unknown, what: string): KanaryError {
  if (isKanaryError(error)) return error;
  if (isHttpAnswer(error)) {
    const status = parseStatus(error.body);
    const code = error.code;
    const reason = status?.reason ?? '';
    const message = status?.message ?? `HTTP ${code}`;
    const retryAfter = Number(error.headers?.['retry-after'] ?? status?.details?.retryAfterSeconds);
    // A conflict on a read-modify-write can succeed after re-reading; AlreadyExists cannot.
    const retryable = code === 429 || code >= 500 || (code === 409 && reason === 'Conflict');
    const kanaryCode = code === 404 ? 'NOT_FOUND' : code === 409 ? 'CONFLICT' : 'KUBERNETES';
    // A Status message may quote what was sent (a webhook's admission answer, a field's value): redacted
    // here, before it reaches a message, an event or a log line.
    return new KanaryError(kanaryCode, `${what}: ${redact(message)}`, {
      cause: error,
      retryable,
      details: {
        httpStatus: code,
        reason,
        ...(status ? { status: redactValue(status) } : {}),
        ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
      },
    });
  }
  const text =
    error instanceof Error
      ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}`
      : String(error);
  const network = NETWORK.test(text) || (error as { code?: string })?.code !== undefined;
  return new KanaryError('KUBERNETES', `${what}: ${redact(error instanceof Error ? error.message : text)}`, {
    cause: error,
    retryable: network,
    details: { network },
  });
}
