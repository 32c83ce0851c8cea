import { KanaryError } from '../errors/kanary-error.ts';
import type { HookContext } from '../ports/hooks.ts';
import type { WebhookSpec } from '../spec/hooks.ts';

/**
 * Calls a spec-declared hook endpoint: POST of a JSON description of the rollout; 2xx lets the
 * rollout go on (Flagger's convention), anything else rejects after the configured retries.
 */
export async function callWebhook(hook: WebhookSpec, ctx: HookContext, fetchFn: typeof fetch): Promise<void> {
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
    if (ctx.signal.aborted) break;
    try {
      const response = await fetchFn(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(hook.timeout)]),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return;
      last = `answered ${response.status}`;
    } catch (error) {
      last =
        (error as Error).name === 'TimeoutError'
          ? `timed out after ${hook.timeout}ms`
          : (error as Error).message;
    }
  }
  throw new KanaryError('HOOK_REJECTED', `hook ${hook.name ?? hook.url} ${last}`, {
    details: { hook: ctx.hook, url: hook.url },
  });
}
