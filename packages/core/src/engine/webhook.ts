import { KanaryError } from '../errors/kanary-error.ts';
import type { Clock } from '../ports/clock.ts';
import type { HookContext } from '../ports/hooks.ts';
import { createRetryPolicy } from '../retry/policy.ts';
import { type WebhookPolicy, webhookAddressProblem } from '../security/addresses.ts';
import { redactUrl } from '../security/redact.ts';
import type { WebhookSpec } from '../spec/hooks.ts';

/**
 * Calls a spec-declared hook endpoint: POST of a JSON description of the rollout; 2xx lets the
 * rollout go on (Flagger's convention), anything else rejects after the configured retries.
 * Redirects are not followed: a 3xx is a failed call (following it would re-send the body to
 * wherever the answer points, and count that server's 2xx as the gate's approval). The URL is
 * only ever shown redacted (no user-info, no secret query values).
 */
export async function callWebhook(
  hook: WebhookSpec,
  ctx: HookContext,
  fetchFn: typeof fetch,
  clock: Clock,
  policy: WebhookPolicy = {},
): Promise<void> {
  const shown = redactUrl(hook.url);
  const refused = webhookAddressProblem(hook.url, policy);
  if (refused)
    throw new KanaryError('HOOK_REJECTED', `hook ${hook.name ?? shown} was not called: its URL ${refused}`, {
      details: { hook: ctx.hook, url: shown },
    });
  const retry = createRetryPolicy({ clock, baseMs: 500, maxMs: 10_000 });
  const body = JSON.stringify({
    name: ctx.key.name,
    namespace: ctx.key.namespace,
    hook: ctx.hook,
    phase: ctx.state.phase,
    step: ctx.stepIndex,
    nextWeight: ctx.nextWeight,
    canaryWeight: ctx.state.weights.canary,
    metadata: hook.metadata ?? {},
  });
  let last = '';
  for (let attempt = 0; attempt <= hook.retries; attempt++) {
    if (attempt > 0) await retry.wait(attempt - 1, ctx.signal);
    if (ctx.signal.aborted) break;
    // The timeout runs on the injected clock, like every wait in Kanary.
    const timeout = new AbortController();
    const stop = new AbortController();
    void clock.sleep(hook.timeout, AbortSignal.any([stop.signal, ctx.signal])).then(() => {
      if (!stop.signal.aborted && !ctx.signal.aborted) timeout.abort();
    });
    try {
      const response = await fetchFn(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([ctx.signal, timeout.signal]),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return;
      last =
        response.status >= 300 && response.status < 400
          ? `answered ${response.status}, a redirect, which hooks do not follow: give the hook's final URL`
          : `answered ${response.status}`;
    } catch (error) {
      last = timeout.signal.aborted
        ? `timed out after ${hook.timeout}ms`
        : redactUrl((error as Error).message);
    } finally {
      stop.abort();
    }
  }
  throw new KanaryError('HOOK_REJECTED', `hook ${hook.name ?? shown} ${last}`, {
    details: { hook: ctx.hook, url: shown },
  });
}
