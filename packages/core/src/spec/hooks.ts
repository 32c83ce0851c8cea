import { z } from 'zod';
import { Duration, withHint } from './primitives.ts';

/**
 * Where a rollout stops to ask. The names and meanings follow Flagger's webhook types so that
 * existing gates (load testers, approval services) carry over; `step` runs before each step.
 */
export const HOOK_NAMES = [
  'confirm-rollout',
  'pre-rollout',
  'step',
  'confirm-traffic-increase',
  'confirm-promotion',
  'post-rollout',
  'rollback',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** A hook declared in the spec: an HTTP endpoint that answers 2xx to let the rollout go on. */
export const WebhookSchema = z.strictObject({
  on: z.enum(HOOK_NAMES),
  name: z.string().min(1).max(63).optional(),
  url: z.url({
    protocol: /^https?$/,
    error: withHint('must be an http(s) URL', 'write e.g. "http://gate.ci:8080/approve"'),
  }),
  timeout: Duration.prefault('10s'),
  retries: z.number().int().min(0).max(10).default(0),
  metadata: z.record(z.string(), z.string()).optional(),
});

export type WebhookSpec = z.output<typeof WebhookSchema>;
