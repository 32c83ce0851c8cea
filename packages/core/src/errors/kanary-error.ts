import { redact, redactValue } from '../security/redact.ts';

/** Every failure Kanary reports has one of these codes; hosts switch on `code`, never on the message. */
export type KanaryErrorCode =
  | 'INVALID_SPEC'
  | 'PREFLIGHT'
  | 'UNSUPPORTED_CAPABILITY'
  | 'INVALID_CONTROL'
  | 'INVALID_STATE'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'LOCKED'
  | 'TIMEOUT'
  | 'PROGRESS_DEADLINE'
  | 'HOOK_REJECTED'
  | 'KUBERNETES'
  | 'ROUTER'
  | 'WORKLOAD'
  | 'ANALYSIS'
  | 'ABORTED'
  /** A newer driver (a higher epoch) has written the object: this driver must stop. */
  | 'FENCED'
  /** This process is no longer the rollout's driver (its lease was lost, taken or released). */
  | 'LEADERSHIP_LOST'
  /** The saved state is missing, unreadable or does not fit the rollout. */
  | 'STATE_CORRUPT'
  /** A side about to receive traffic has no ready pods to serve it: the write was not made. */
  | 'UNREADY'
  /** The live routing is not what Kanary last wrote: a person changed it; their change is kept. */
  | 'DRIFT'
  | 'INTERNAL';

/** One problem found in user input: where it is, what is wrong, and how to fix it. */
/**
 * What an issue asks of whoever set the rollout up, named so a front end can say it in its own
 * terms (the CLI speaks of file keys where the hint speaks of options): a router, a metric gate, a
 * webhook host the program allows, the spec the release started with, a metric function.
 */
export type IssueRemedy = 'router' | 'metricGate' | 'webhookHost' | 'sameSpec' | 'metricFunction';

export interface KanaryIssue {
  /** Dotted path into the input, e.g. `steps[2].setWeight`. Empty for the root. */
  path: string;
  message: string;
  /** The fix, in the SDK's terms. */
  hint?: string;
  remedy?: IssueRemedy;
  /** Preflight findings may be warnings; everything else is an error. */
  severity?: 'error' | 'warning';
}

export interface KanaryErrorOptions {
  cause?: unknown;
  issues?: KanaryIssue[];
  /** Machine-readable extra detail (a Kubernetes Status body, the refused control, ...). */
  details?: Record<string, unknown>;
  /** Whether retrying the same operation may succeed (network faults, 429, 5xx, conflicts). */
  retryable?: boolean;
}

const BRAND = Symbol.for('kanary.error');

export class KanaryError extends Error {
  override readonly name: string = 'KanaryError';
  readonly code: KanaryErrorCode;
  readonly issues: readonly KanaryIssue[];
  readonly details: Readonly<Record<string, unknown>>;
  readonly retryable: boolean;
  readonly [BRAND] = true;

  constructor(code: KanaryErrorCode, message: string, options: KanaryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = options.issues ?? [];
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
  }

  /** A plain JSON form, safe to persist in rollout state or send to a chat. */
  toJSON(): {
    code: KanaryErrorCode;
    message: string;
    issues?: KanaryIssue[];
    details?: Record<string, unknown>;
  } {
    // Saved in the state, printed by the CLI, sent to chats: never with a credential in it.
    return {
      code: this.code,
      message: redact(this.message),
      ...(this.issues.length > 0 ? { issues: redactValue([...this.issues]) } : {}),
      ...(Object.keys(this.details).length > 0 ? { details: redactValue({ ...this.details }) } : {}),
    };
  }
}

/**
 * True for a KanaryError from any copy of this package (a host may end up with two copies in
 * node_modules, so `instanceof` alone is not enough).
 */
export function isKanaryError(value: unknown, code?: KanaryErrorCode): value is KanaryError {
  if (typeof value !== 'object' || value === null) return false;
  const branded = (value as Record<symbol, unknown>)[BRAND] === true;
  if (!branded && !(value instanceof KanaryError)) return false;
  return code === undefined || (value as KanaryError).code === code;
}

/** Wraps anything thrown into a KanaryError, keeping the original as `cause`. */
export function toKanaryError(error: unknown, fallback: KanaryErrorCode = 'INTERNAL'): KanaryError {
  if (isKanaryError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new KanaryError(fallback, message, { cause: error });
}

/** Renders issues as an indented list for error messages. */
export function formatIssues(issues: readonly KanaryIssue[]): string {
  return issues
    .map((i) => `  - ${i.path || '(root)'}: ${i.message}${i.hint ? ` (fix: ${i.hint})` : ''}`)
    .join('\n');
}
