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
    /** Name of the canary Deployment; defaults to `<target>-canary`. */
    name: ObjectName.optional(),
    /** Use a Deployment the user already made instead of creating one. */
    adopt: z.boolean().default(false),
    /** Replicas of the canary; defaults to the stable replica count. */
    replicas: Replicas(1).optional(),
  })
  .default({ adopt: false });

const StickySession = z.strictObject({
  cookieName: CookieName,
  maxAge: Duration.prefault('24h'),
});

/**
 * Weight by user (article 004's "a share of users"): a step's weight is the share of user keys
 * routed to the canary, chosen by the key's last two characters, so a user stays on one side and
 * the users of a lower weight stay on the canary as it grows. Requests without a key stay stable.
 */
export const HashOnSchema = z
  .strictObject({
    /** The request header holding the user key (e.g. `x-user-id`). */
    header: HeaderName.optional(),
    /** Or the cookie holding it. */
    cookie: CookieName.optional(),
    /** How keys end: `decimal` (numeric ids; 1% steps) or `hex` (UUIDs, hashes; 1/256 steps). */
    keys: z.enum(['decimal', 'hex'], {
      error: withHint(
        'must say how user keys end',
        'use "decimal" for numeric user ids or "hex" for UUIDs and hashes',
      ),
    }),
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
    type: z.literal('weighted'),
    canary: CanaryWorkload,
    /** The largest weight a step may set before promotion (Flagger's maxWeight). */
    maxWeight: Percent.default(100),
    stickySession: StickySession.optional(),
    hashOn: HashOnSchema.optional(),
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
  type: z.literal('headerMatch'),
  canary: CanaryWorkload,
  /** Who is routed: any rule matching sends the request to the matched split (seed 003). */
  match: MatchListSchema,
  /** Share of matched users sent to the canary: 100 = all of them, 50 = seed 003's 50/50. */
  weight: Percent.default(100),
  maxWeight: Percent.default(100),
  stickySession: StickySession.optional(),
});

export const RollingStrategy = z
  .strictObject({
    type: z.literal('rolling'),
    /**
     * Most new pods added in one batch while a step rolls (int or percentage of replicas).
     * Steps add pods without removing old ones (maxUnavailable 0), so capacity never drops;
     * the Deployment's own rolling parameters apply again at promotion.
     */
    maxSurge: IntOrPercent.default('25%'),
    /** While paused, expose only the new pods through their own Service (seed 000's isolation). */
    canaryService: z
      .strictObject({
        name: LabelName,
        /** Also pin the stable Service to the old pods' pod-template-hash while the rollout is paused. */
        isolateStable: z.boolean().default(true),
        /** Its type (seed 000 reaches the new pods on a NodePort of their own); default ClusterIP. */
        type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']).optional(),
        /** With type NodePort or LoadBalancer: the node port to open (seed 000's 31244); default one the cluster picks. */
        nodePort: z.number().int().min(1).max(65535).optional(),
      })
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
    type: z.literal('blueGreen'),
    /** The Service users reach; its selector switch is the cut-over. */
    activeService: LabelName,
    /** A Service selecting only the new (green) pods before the switch, for smoke tests. */
    previewService: LabelName.optional(),
    green: CanaryWorkload,
    autoPromotionEnabled: z.boolean().default(true),
    /** Promote automatically this long after green is ready (and pre-promotion checks pass). */
    autoPromotionSeconds: z.number().int().nonnegative().optional(),
    /** Keep blue up this long after the switch, so a rollback is one selector write. */
    scaleDownDelaySeconds: z.number().int().nonnegative().default(30),
    previewReplicaCount: Replicas(1).optional(),
    prePromotionAnalysis: AnalysisSchema.optional(),
    postPromotionAnalysis: AnalysisSchema.optional(),
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
  type: z.literal('replicaRatio'),
  canary: CanaryWorkload,
  /** Pods across both Deployments; defaults to the stable Deployment's replicas when the rollout starts. */
  totalReplicas: Replicas(1).optional(),
  /** Extra pods allowed above the total while shifting (int or percentage of the total). */
  maxSurge: IntOrPercent.default(0),
  /** Never run fewer pods than this on a side that has any weight (an HA floor, Argo #1738). */
  minPodsPerSide: Replicas(0).default(1),
});

export const StrategySchema = z.discriminatedUnion('type', [
  WeightedStrategy,
  HeaderMatchStrategy,
  RollingStrategy,
  BlueGreenStrategy,
  ReplicaRatioStrategy,
]);

export type StrategySpec = z.output<typeof StrategySchema>;
export type HashOn = z.output<typeof HashOnSchema>;
export type StrategyType = StrategySpec['type'];
export const STRATEGY_TYPES: readonly StrategyType[] = [
  'weighted',
  'headerMatch',
  'rolling',
  'blueGreen',
  'replicaRatio',
];
