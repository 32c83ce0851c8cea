// One redaction for everything Kanary writes where people or other programs read it: error
// messages, Kubernetes Events, the saved state, log lines and CLI output. A spec names URLs and a
// failed call brings back whatever a server answered; neither may carry a credential further.
// What is hidden, and why:
// - a URL's user-info (`https://user:pass@host`), which fetch would send as basic auth;
// - values of query parameters that look like secrets (token, key, signature, password, …),
//   which webhook and provider URLs carry for services without other auth;
// - the values of Authorization, Proxy-Authorization, Cookie, Set-Cookie and X-Api-Key style
//   headers, and bearer/basic credentials, wherever a server echoed them back into a body;
// - PEM private keys.
// The rest of the text stays: the host, the path, the status, so a person can still tell what failed.

export const REDACTED = '***';

/** Query parameter names whose values are credentials (matched case-insensitively, as parts). */
const SECRET_PARAM =
  /^(?:.*[-_.])?(?:token|access[-_]?token|id[-_]?token|refresh[-_]?token|secret|client[-_]?secret|password|passwd|pwd|pass|api[-_]?key|apikey|key|sig|signature|credential|credentials|auth|authorization|session|sessionid|x-amz-signature|x-amz-credential|x-amz-security-token)$/i;

/** Header names whose values are credentials, as they appear in echoed requests (`Name: value`). */
const SECRET_HEADER =
  /\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token|x-access-token|private-token)(\s*["']?\s*[:=]\s*["']?)([^"'\r\n,}]*)/gi;

/** Hides user-info and secret-looking query values in every URL found in the text. */
function redactUrls(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)([^\s"'<>]*)/gi, (_match, scheme: string, rest: string) => {
    let out = rest.replace(/^[^/?#@\s]*@/, `${REDACTED}@`);
    out = out.replace(/([?&;])([^=&;#\s]+)=([^&;#\s]*)/g, (m, sep: string, name: string, value: string) =>
      SECRET_PARAM.test(decodeSafe(name)) && value !== '' ? `${sep}${name}=${REDACTED}` : m,
    );
    return `${scheme}${out}`;
  });
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Hides credentials in a piece of text (see the module comment for what counts). */
export function redact(text: string): string {
  if (text === '') return text;
  let out = redactUrls(text);
  out = out.replace(SECRET_HEADER, (_m, name: string, sep: string, value: string) =>
    value.trim() === '' ? `${name}${sep}${value}` : `${name}${sep}${REDACTED}`,
  );
  out = out.replace(/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`);
  out = out.replace(
    /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g,
    `-----BEGIN $1PRIVATE KEY-----${REDACTED}-----END $1PRIVATE KEY-----`,
  );
  return out;
}

/** A URL as it may be shown: no user-info, no secret query values. Not a URL: redacted as text. */
export function redactUrl(url: string | URL): string {
  return redact(String(url));
}

/**
 * Redacts every string in a JSON-like value (a saved state, an event's fields, error details),
 * returning a copy; object keys that name credentials lose their values entirely.
 */
export function redactValue<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (depth > 64 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>))
    out[key] =
      /^(authorization|password|passwd|token|secret|cookie|api[-_]?key|bearerToken|clientKey|client[-_]?secret)$/i.test(
        key,
      ) && typeof v === 'string'
        ? REDACTED
        : redactValue(v, depth + 1);
  return out as T;
}

/** A short, redacted excerpt of a failed call's response body: enough to tell what it was. */
export function bodyExcerpt(body: string, max = 120): string {
  const flat = redact(body).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
