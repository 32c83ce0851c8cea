/** kube-apiserver's `Status` error bodies, and an error type carrying one. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

export class ApiError extends Error {
  readonly body: StatusBody;
  readonly headers: Record<string, string>;
  constructor(
    body: Omit<StatusBody, 'kind' | 'apiVersion' | 'metadata' | 'status'>,
    headers: Record<string, string> = {},
  ) {
    super(body.message);
    this.body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', ...body };
    this.headers = headers;
  }
  get code(): number {
    return this.body.code;
  }
}

/** `deployments.apps`, `services` — how the API server names a resource in messages. */
export interface ResourceName {
  group: string;
  plural: string;
  kind: string;
}
const qualified = (r: ResourceName) => (r.group ? `${r.plural}.${r.group}` : r.plural);

export const errors = {
  notFound: (r: ResourceName, name: string) =>
    new ApiError({
      code: 404,
      reason: 'NotFound',
      message: `${qualified(r)} "${name}" not found`,
      details: { name, group: r.group, kind: r.plural },
    }),
  alreadyExists: (r: ResourceName, name: string) =>
    new ApiError({
      code: 409,
      reason: 'AlreadyExists',
      message: `${qualified(r)} "${name}" already exists`,
      details: { name, group: r.group, kind: r.plural },
    }),
  conflict: (
    r: ResourceName,
    name: string,
    why = 'the object has been modified; please apply your changes to the latest version and try again',
  ) =>
    new ApiError({
      code: 409,
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`,
      details: { name, group: r.group, kind: r.plural },
    }),
  applyConflict: (r: ResourceName, name: string, causes: StatusCause[]) =>
    new ApiError({
      code: 409,
      reason: 'Conflict',
      message: `Apply failed with ${causes.length} conflict${causes.length === 1 ? '' : 's'}: ${causes.map((c) => c.message).join(', ')}`,
      details: { name, group: r.group, kind: r.plural, causes },
    }),
  invalid: (r: ResourceName, name: string, causes: StatusCause[]) =>
    new ApiError({
      code: 422,
      reason: 'Invalid',
      message: `${r.kind}${r.group ? `.${r.group}` : ''} "${name}" is invalid: ${causes.map((c) => `${c.field ? `${c.field}: ` : ''}${c.message}`).join(', ')}`,
      details: { name, group: r.group, kind: r.kind, causes },
    }),
  entityTooLarge: (limit: number) =>
    new ApiError({
      code: 413,
      reason: 'RequestEntityTooLarge',
      message: `Request entity too large: limit is ${limit}`,
    }),
  forbidden: (r: ResourceName, name: string, why: string) =>
    new ApiError({
      code: 403,
      reason: 'Forbidden',
      message: `${qualified(r)} "${name}" is forbidden: ${why}`,
      details: { name, group: r.group, kind: r.plural },
    }),
  badRequest: (message: string) => new ApiError({ code: 400, reason: 'BadRequest', message }),
  methodNotAllowed: (message: string) => new ApiError({ code: 405, reason: 'MethodNotAllowed', message }),
  unsupportedMediaType: (type: string, accepted: string[]) =>
    new ApiError({
      code: 415,
      reason: 'UnsupportedMediaType',
      message: `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}${type ? ` (got ${type})` : ''}`,
    }),
  notAcceptable: (accepted: string[]) =>
    new ApiError({
      code: 406,
      reason: 'NotAcceptable',
      message: `only the following media types are accepted: ${accepted.join(', ')}`,
    }),
  gone: (message: string) => new ApiError({ code: 410, reason: 'Expired', message }),
  tooManyRequests: (retryAfterSeconds: number) =>
    new ApiError(
      {
        code: 429,
        reason: 'TooManyRequests',
        message: 'the server has received too many requests and has asked us to try again later',
        details: { retryAfterSeconds },
      },
      { 'retry-after': String(retryAfterSeconds) },
    ),
  internal: (message: string) =>
    new ApiError({ code: 500, reason: 'InternalError', message: `Internal error occurred: ${message}` }),
  unavailable: (message = 'the server is currently unable to handle the request') =>
    new ApiError({ code: 503, reason: 'ServiceUnavailable', message }),
};
