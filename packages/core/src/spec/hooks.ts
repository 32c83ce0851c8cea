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
export const WebhookSchema = z
  .strictObject({
    on: z
      .enum(HOOK_NAMES)
      .describe(
        "When it is called (Flagger's webhook types): confirm-rollout, pre-rollout, step (before each step), confirm-traffic-increase, confirm-promotion gate the release; post-rollout and rollback only report.",
      ),
    name: z.string().min(1).max(63).optional().describe('A name for the hook in status and events.'),
    url: z
      .url({
        protocol: /^https?$/,
        error: withHint('must be an http(s) URL', 'write e.g. "http://gate.ci:8080/approve"'),
      })
      // fetch refuses such URLs, and the spec is saved with the release's state: no credentials here.
      .refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), {
        message: 'must not carry a user name or password',
        params: {
          hint: 'have the hook accept the call without them, or put it behind a host the program allows',
        },
      })
      .describe('The http(s) endpoint called with a POST; 2xx lets the release go on.'),
    timeout: Duration.prefault('10s').describe(
      'How long one call may take (at most 24h for a gating hook, 1h for the others).',
    ),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(0)
      .describe('Calls repeated after a failure before it counts.'),
    metadata: z.record(z.string(), z.string()).optional().describe('Sent with every call, as Flagger does.'),
  })
  .superRefine((hook, ctx) => {
    // A gating hook may wait for a person (up to a day); the others only report.
    const gating = GATING_HOOKS.has(hook.on);
    const max = gating ? 24 * 3_600_000 : 3_600_000;
    if (hook.timeout > max)
      ctx.addIssue({
        code: 'custom',
        path: ['timeout'],
        message: `must be at most ${gating ? '24h for a hook that gates the release' : `1h for a ${hook.on} hook`}`,
        params: {
          hint: gating ? 'write e.g. "1h"; to wait longer, pause the release instead' : 'write e.g. "30s"',
        },
      });
  });

/** Hooks whose answer decides whether the release goes on. */
export const GATING_HOOKS: ReadonlySet<HookName> = new Set<HookName>([
  'confirm-rollout',
  'pre-rollout',
  'step',
  'confirm-traffic-increase',
  'confirm-promotion',
]);

/** One of the spec's `hooks`, parsed (timeout in ms); fields in docs/spec-reference.md ("hooks[]"). */
export type WebhookSpec = z.output<typeof WebhookSchema>;
