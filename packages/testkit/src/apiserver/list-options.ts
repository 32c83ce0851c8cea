import { errors, type StatusCause } from './status.ts';

/** A boolean query parameter as Go's strconv.ParseBool reads it (the Python client sends `watch=True`). */
export function parseBool(value: string | null): boolean {
  return value !== null && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value);
}

const NOT_OLDER_THAN = 'NotOlderThan';

const forbid = (field: string, message: string): StatusCause => ({
  reason: 'FieldValueForbidden',
  field,
  message: `Forbidden: ${message}`,
});

/**
 * kube-apiserver's checks of a LIST's or WATCH's options that concern streaming lists (KEP-3157):
 * `sendInitialEvents` only on a watch, only with `resourceVersionMatch=NotOlderThan`, and only
 * where the `WatchList` feature gate is on (off by default in 1.33, on in 1.32 and 1.34). Throws
 * the API server's 422 (`ListOptions.meta.k8s.io "" is invalid: …`), which clients that stream
 * recognise to fall back to LIST then WATCH.
 */
export function checkListOptions(query: URLSearchParams, watch: boolean, watchListGate: boolean): void {
  const causes: StatusCause[] = [];
  const send = query.get('sendInitialEvents');
  const match = query.get('resourceVersionMatch') ?? '';
  if (!watch) {
    if (send !== null) causes.push(forbid('sendInitialEvents', 'sendInitialEvents is forbidden for list'));
  } else {
    if (send !== null) {
      if (match !== NOT_OLDER_THAN)
        causes.push(
          forbid(
            'resourceVersionMatch',
            `sendInitialEvents requires setting resourceVersionMatch to ${NOT_OLDER_THAN}`,
          ),
        );
      if (!watchListGate)
        causes.push(
          forbid(
            'sendInitialEvents',
            'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
          ),
        );
    }
    if (match) {
      if (send === null)
        causes.push(
          forbid(
            'resourceVersionMatch',
            'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided',
          ),
        );
      if (match !== NOT_OLDER_THAN)
        causes.push({
          reason: 'FieldValueNotSupported',
          field: 'resourceVersionMatch',
          message: `Unsupported value: "${match}": supported values: "${NOT_OLDER_THAN}"`,
        });
      if (query.get('continue'))
        causes.push(
          forbid('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'),
        );
    }
  }
  if (causes.length > 0)
    throw errors.invalid({ group: 'meta.k8s.io', kind: 'ListOptions', plural: 'listoptions' }, '', causes);
}

/** The annotation on the bookmark that ends a streaming list's initial events. */
export const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';
