import { isKanaryError } from '@kanary/core';

/** What `kanary` exits with; scripts and CI jobs switch on these. */
export const EXIT = {
  /** Done as asked: promoted, control accepted, plan valid, status shown. */
  ok: 0,
  /** The rollout ended without promoting: rolled back, aborted or failed. */
  rolledBack: 1,
  /** Bad command line or file: nothing was written to the cluster. */
  invalid: 2,
  /** The cluster could not be reached or refused a request (network, auth, RBAC, missing objects). */
  cluster: 3,
  /** Refused by the rollout's state: another driver holds it, the control is not allowed now, or a different release is in flight. */
  refused: 4,
  /** No saved rollout by that name. */
  notFound: 5,
  /** A control was recorded but had not taken effect within --timeout (the message says who holds the rollout). */
  timeout: 6,
  /** Interrupted (Ctrl-C): the state is saved; `kanary run` resumes. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeFor(error: unknown): ExitCode {
  if (!isKanaryError(error)) return EXIT.cluster;
  switch (error.code) {
    case 'INVALID_SPEC':
    case 'UNSUPPORTED_CAPABILITY':
    case 'PREFLIGHT':
      return EXIT.invalid;
    case 'INVALID_CONTROL':
    case 'INVALID_STATE':
    case 'LOCKED':
    case 'CONFLICT':
    case 'STATE_CORRUPT':
      return EXIT.refused;
    case 'NOT_FOUND':
      return EXIT.notFound;
    case 'TIMEOUT':
      return EXIT.timeout;
    default:
      return EXIT.cluster;
  }
}
