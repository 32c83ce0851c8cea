import { z } from 'zod';
import { AnalysisSchema } from './analysis.ts';
import { MatchListSchema } from './match.ts';
import {
  CookieName,
  Duration,
  HeaderName,
  hinted,
  IntOrPercent,
  LabelName,
  ObjectName,
  Percent,
  Replicas,
  withHint,
} from './primitives.ts';

/** Where the new version runs when a strategy needs a second workload. */
const CanaryWorkload = z
  .strictObject({
    name: ObjectName.optional().describe("The second Deployment's name; default TARGET-canary."),
    adopt: z
      .boolean()
      .default(false)
      .describe('Use a Deployment you already made under that name instead of creating one.'),
    replicas: Replicas(1).optional().describe("Its replicas; default the stable Deployment's."),
  })
  .default({ adopt: false })
  .describe('The second Deployment, where the new version runs until promotion.');

const StickySession = z
  .strictObject({
    cookieName: CookieName.describe(
      'The cookie the data plane sets to keep a user on the side first chosen.',
    ),
    maxAge: Duration.prefault('24h').describe('How long the cookie keeps the user there.'),
  })
  .describe(
    'Keep each user on the side a weighted split first sent them to, by a cookie (routers that support it).',
  );

/**
 * Weight by user ("a share of users" rather than of requests): a step's weight is the share of user keys
 * routed to the canary, chosen by the key's last two characters, so a user stays on one side and
 * the users of a lower weight stay on the canary as it grows. Requests without a key stay stable.
 */
export const HashOnSchema = z
  .strictObject({
    header: HeaderName.optional().describe('The request header holding the user key, e.g. x-user-id.'),
    cookie: CookieName.optional().describe('Or the cookie holding it.'),
    keys: z
      .enum(['decimal', 'hex'], {
        error: withHint(
          'must say how user keys end',
          'use "decimal" for numeric user ids or "hex" for UUIDs and hashes',
        ),
      })
      .describe('How keys end: `decimal` (numeric ids; 1% steps) or `hex` (UUIDs, hashes; 1/256 steps).'),
  })
  .superRefine((h, ctx) => {
    if ((h.header === undefined) === (h.cookie === undefined))
      ctx.addIssue({
        code: 'custom',
        ...hinted(
          h.header === undefined ? 'names no header or cookie' : 'names both a header and a cookie',
          'give exactly one of header or cookie: where the user key is',
        ),
      });
  });

export const WeightedStrategy = z
  .strictObject({
    type: z
      .literal('weighted')
      .describe(
        'A share of requests (or of users, with hashOn) to the canary, set by setWeight steps through a router.',
      ),
    canary: CanaryWorkload,
    maxWeight: Percent.default(100).describe(
      "The largest weight a step may set before promotion (Flagger's maxWeight); more is refused.",
    ),
    stickySession: StickySession.optional(),
    hashOn: HashOnSchema.optional().describe(
      "Weight by user: a step's weight is the share of user keys (a header or cookie) on the canary, so a user stays on one side and the users of a lower weight stay as it grows. Requests without a key stay stable.",
    ),
  })
  .superRefine((s, ctx) => {
    if (s.hashOn && s.stickySession)
      ctx.addIssue({
        code: 'custom',
        path: ['stickySession'],
        ...hinted(
          'is set with hashOn, which already keeps every user on one side',
          'remove stickySession, or hashOn to split requests at random',
        ),
      });
  });

export const HeaderMatchStrategy = z.strictObject({
  type: z
    .literal('headerMatch')
    .describe(
      'Only requests matching a header or cookie go to the canary (at `weight`); everyone else stays stable.',
    ),
  canary: CanaryWorkload,
  match: MatchListSchema.describe(
    'Who is routed: a request matching any rule goes to the matched split; within a rule every condition must hold.',
  ),
  weight: Percent.default(100).describe(
    'Share of matched requests sent to the canary: 100 all of them, 50 half.',
  ),
  maxWeight: Percent.default(100).describe('The largest weight a step may set before promotion.'),
  stickySession: StickySession.optional(),
});

export const RollingStrategy = z
  .strictObject({
    type: z
      .literal('rolling')
      .describe(
        'The Deployment itself is updated in stages: setWeight is the share of pods on the new version; no router, no second Deployment.',
      ),
    maxSurge: IntOrPercent.default('25%').describe(
      'Most new pods added in one batch while a step rolls (a number or a percentage of replicas). Old pods are not removed before new ones are ready, so capacity never drops.',
    ),
    canaryService: z
      .strictObject({
        name: LabelName.describe('The Service made for the new pods only.'),
        isolateStable: z
          .boolean()
          .default(true)
          .describe(
            'Also pin the stable Service to the old pods while paused, so its users reach only the old version.',
          ),
        type: z
          .enum(['ClusterIP', 'NodePort', 'LoadBalancer'])
          .optional()
          .describe('Its type; default ClusterIP (NodePort reaches the new pods from outside the cluster).'),
        nodePort: z
          .number()
          .int()
          .min(1)
          .max(65535)
          .optional()
          .describe(
            'With type NodePort or LoadBalancer: the node port to open; default one the cluster picks.',
          ),
      })
      .describe('While paused, expose only the new pods through a Service of their own, for testing them.')
      .superRefine((c, ctx) => {
        if (c.nodePort !== undefined && (c.type ?? 'ClusterIP') === 'ClusterIP')
          ctx.addIssue({
            code: 'custom',
            path: ['nodePort'],
            ...hinted(
              'needs a Service with node ports',
              'set type: NodePort (or LoadBalancer), or leave nodePort out',
            ),
          });
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.maxSurge === 0 || s.maxSurge === '0%') {
      ctx.addIssue({
        code: 'custom',
        path: ['maxSurge'],
        ...hinted('is 0, so a step could never add a pod', 'use 1 or more, or a percentage such as "25%"'),
      });
    }
  });

export const BlueGreenStrategy = z
  .strictObject({
    type: z
      .literal('blueGreen')
      .describe(
        'A full second version (green) beside the old (blue); one Service selector switch moves everyone. No steps.',
      ),
    activeService: LabelName.describe('The Service users reach; switching its selector is the cut-over.'),
    previewService: LabelName.optional().describe(
      'A Service that selects only the green pods before the switch, for smoke tests.',
    ),
    green: CanaryWorkload,
    autoPromotionEnabled: z
      .boolean()
      .default(true)
      .describe('Switch without waiting for `promote` once green is ready and pre-promotion checks pass.'),
    autoPromotionSeconds: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe('Switch automatically this many seconds after green is ready; unset: at once.'),
    scaleDownDelaySeconds: z
      .number()
      .int()
      .nonnegative()
      .default(30)
      .describe('Keep blue up this long after the switch, so a rollback is one selector write.'),
    previewReplicaCount: Replicas(1)
      .optional()
      .describe("Green's replicas before the switch (scaled to full at promotion); default full."),
    prePromotionAnalysis: AnalysisSchema.optional().describe(
      'Measured against the preview before the switch; a failure rolls back without users ever reaching green.',
    ),
    postPromotionAnalysis: AnalysisSchema.optional().describe(
      'Measured after the switch while blue is still up; a failure switches back.',
    ),
  })
  .superRefine((s, ctx) => {
    if (s.previewService !== undefined && s.previewService === s.activeService) {
      ctx.addIssue({
        code: 'custom',
        path: ['previewService'],
        ...hinted('is the same Service as activeService', 'use a separate preview Service, or leave it out'),
      });
    }
    if (!s.autoPromotionEnabled && s.autoPromotionSeconds !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['autoPromotionSeconds'],
        ...hinted('has no effect when autoPromotionEnabled is false', 'remove one of the two'),
      });
    }
  });

export const ReplicaRatioStrategy = z.strictObject({
  type: z
    .literal('replicaRatio')
    .describe(
      'Gray release without a mesh: both Deployments behind one Service, the split following their pod counts (approximate).',
    ),
  canary: CanaryWorkload,
  totalReplicas: Replicas(1)
    .optional()
    .describe(
      "Pods across both Deployments; default the stable Deployment's replicas when the rollout starts.",
    ),
  maxSurge: IntOrPercent.default(0).describe(
    'Extra pods allowed above the total while shifting (a number or a percentage of the total).',
  ),
  minPodsPerSide: Replicas(0)
    .default(1)
    .describe('Never fewer pods than this on a side that has any weight (a high-availability floor).'),
});

export const StrategySchema = z.discriminatedUnion('type', [
  WeightedStrategy,
  HeaderMatchStrategy,
  RollingStrategy,
  BlueGreenStrategy,
  ReplicaRatioStrategy,
]);

/** The spec's `strategy`, parsed, by `type`; every strategy's fields in docs/spec-reference.md. */
export type StrategySpec = z.output<typeof StrategySchema>;
/** The weighted strategy's `hashOn` (weight by user), parsed. */
export type HashOn = z.output<typeof HashOnSchema>;
export type StrategyType = StrategySpec['type'];
export const STRATEGY_TYPES: readonly StrategyType[] = [
  'weighted',
  'headerMatch',
  'rolling',
  'blueGreen',
  'replicaRatio',
];
