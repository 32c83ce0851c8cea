import { KanaryError } from '../errors/kanary-error.ts';
import type { Clock } from '../ports/clock.ts';
import type { HookContext } from '../ports/hooks.ts';
import { createRetryPolicy } from '../retry/policy.ts';
import type { WebhookSpec } from '../spec/hooks.ts';

/**
 * Calls a spec-declared hook endpoint: POST of a JSON description of the rollout; 2xx lets the
 * rollout go on (Flagger's convention), anything else rejects after the configured retries.
 */
export async function callWebhook(
  hook: WebhookSpec,
  ctx: HookContext,
  fetchFn: typeof fetch,
  clock: Clock,
): Promise<void> {
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
        signal: AbortSignal.any([ctx.signal, timeout.signal]),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return;
      last = `answered ${response.status}`;
    } catch (error) {
      last = timeout.signal.aborted ? `timed out after ${hook.timeout}ms` : (error as Error).message;
    } finally {
      stop.abort();
    }
  }
  throw new KanaryError('HOOK_REJECTED', `hook ${hook.name ?? hook.url} ${last}`, {
    details: { hook: ctx.hook, url: hook.url },
  });
}
