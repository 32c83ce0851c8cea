import type { PlanAction } from '../plan/actions.ts';
import type { PortContext } from '../ports/context.ts';
import type { Side, WorkloadRef } from '../ports/refs.ts';
import type { TrafficRouter, WeightMode } from '../ports/router.ts';
import type { WorkloadDriver } from '../ports/workload.ts';
import type { EngineEvent } from './reducer.ts';
import type { RolloutState } from './state.ts';

/**
 * The sides a routing action gives a share of users to (`canaryWeight`: the canary's share now).
 * `finalize` leaves users on the stable,
 * except after a blue-green promotion, where green (the canary) stays the serving colour. A replica-ratio router makes each side's
 * pods itself as it moves the weight (and refuses shares without a pod), so it is not looked at
 * before its writes; its pods are watched like any other's.
 */
export function receivers(
  action: PlanAction,
  mode: WeightMode,
  promotedSide: Side = 'stable',
  canaryWeight = 0,
): Side[] {
  if (mode === 'replicas') return [];
  switch (action.type) {
    // Preparing routes everyone to the stable: a move only when users are elsewhere (a release
    // begun again from the prelude after a hold sent them all to the canary).
    case 'router.prepare':
      return canaryWeight > 0 ? ['stable'] : [];
    case 'router.setWeight':
      return [
        ...(action.weight > 0 ? (['canary'] as const) : []),
        ...(action.weight < 100 ? (['stable'] as const) : []),
      ];
    case 'router.setHeaderRoute':
      return (action.route.weight ?? 100) > 0 ? ['canary'] : [];
    case 'router.reset':
      return ['stable'];
    case 'router.finalize':
      return [promotedSide];
    default:
      return [];
  }
}

/**
 * The stable as it is now, as if the rollout were starting: someone changed its template, and that
 * version is the new baseline (`original`) to route to and to restore.
 */
export async function describeAsNow(workload: WorkloadDriver, ctx: PortContext): Promise<WorkloadRef> {
  const { original: _, ...current } = ctx.targets.stable ?? { name: ctx.spec.target.name, podLabels: {} };
  return (await workload.describe({ ...ctx, targets: { ...ctx.targets, stable: current } })).stable;
}

/** `ctx` with the canary as it is now (its current ReplicaSet), when the workload has one. */
async function withCanaryAsNow(workload: WorkloadDriver, ctx: PortContext): Promise<PortContext> {
  const { canary } = await workload.describe(ctx);
  return canary ? { ...ctx, targets: { ...ctx.targets, canary } } : ctx;
}

/**
 * The sides users reach now, from what Kanary last wrote. While a weight change is in flight its
 * writes may already be live (a replica-ratio router scales the losing side down as it goes), so a
 * side counts only if it keeps a share under both the last weight and the one being set: the side
 * the change takes users off is the change's to empty, not a side users were left on.
 */
export function sidesWithShare(state: RolloutState, inFlight?: PlanAction): Side[] {
  const matched = Object.values(state.headerRoutes).some((r) => (r.weight ?? 100) > 0);
  const weights = [state.weights.canary, ...(inFlight?.type === 'router.setWeight' ? [inFlight.weight] : [])];
  return [
    ...(weights.every((w) => w > 0) || matched ? (['canary'] as const) : []),
    ...(weights.every((w) => w < 100) ? (['stable'] as const) : []),
  ];
}

/**
 * One look at the world while the steps wait (a pause, an analysis, a readiness poll): has someone
 * changed the target's template, and does every side users reach still have ready pods? Returns
 * the event that records what was found and the routing written to keep users on pods that serve,
 * or a warning when nothing Kanary could write would help (no side can serve, or only a canary
 * that has had no users yet). Never writes a share onto a side without ready pods.
 */
export async function watchWorld(
  ports: { workload: WorkloadDriver; router: TrafficRouter },
  ctx: PortContext,
  now: () => number,
  inFlight?: PlanAction,
): Promise<{ event?: EngineEvent; warning?: string }> {
  const { workload, router } = ports;
  const endpoints = workload.endpoints?.bind(workload);
  if (!endpoints) return {};
  const state = ctx.state;
  const stable = await endpoints(ctx, 'stable');

  if (state.cursor.section === 'promotion') {
    // Promotion changes the stable's template itself; what matters is the canary taking users.
    const sides = sidesWithShare(state, inFlight);
    const canary = await endpoints(ctx, 'canary');
    if (sides.includes('stable') && stable.ready === 0 && canary.ready > 0 && state.weights.canary < 100) {
      // The stable lost its pods (deleted, crashing) while users still reach it, and the version
      // being promoted serves: they go there now, not when the promotion gets to it (chaos seed 1166:
      // half the users failed for two minutes while the promotion waited for the stable to return).
      const status = await router.setWeight(ctx, 100);
      return {
        event: {
          type: 'rerouted',
          at: now(),
          result: { router: status },
          reason: `${stable.message}: all traffic moved to the canary being promoted`,
        },
      };
    }
    if (!sides.includes('canary')) return {};
    if (canary.ready > 0) return {};
    if (stable.ready === 0)
      return {
        warning: `${canary.message}, and ${stable.message}: no side can serve; routing left as it is`,
      };
    // The version being promoted stopped serving: roll back, as a failed analysis would.
    return {
      event: {
        type: 'actionFailed',
        at: now(),
        cause: 'error',
        error: {
          code: 'UNREADY',
          message: `${canary.message} while it takes users during promotion; the stable can serve: rolling back`,
        },
      },
    };
  }

  if (stable.changed && ctx.spec.strategy.type !== 'rolling') {
    // Someone else's template is the baseline now: route everyone to it, as it is — once its pods
    // serve. While its own rolling update has none ready yet, routing stays as it is (the old
    // revision's pods, which that update keeps until new ones are ready, and the canary) and the
    // release holds; it starts again by itself once the new pods serve (chaos seed 152: re-pointing
    // at once sent every user to a revision with no ready pod).
    const current = await describeAsNow(workload, ctx);
    const rebased = { ...ctx, targets: { ...ctx.targets, stable: current } };
    const serving = await endpoints({ ...rebased, state: { ...state, targets: rebased.targets } }, 'stable');
    // No ReplicaSet for the new template yet (the controller has not reacted): its revision is
    // unknown, and the ready pods counted are the old ones its rollout is about to replace (chaos:
    // routing pinned to them went dark a few seconds later, and the restart never learnt the hash).
    if (serving.ready === 0 || !current.podTemplateHash) {
      if (state.held?.kind === 'targetChanged') return {};
      return {
        event: {
          type: 'held',
          at: now(),
          cause: {
            kind: 'targetChanged',
            side: 'stable',
            reason: `${stable.changed}; its new pods are not ready yet, so users stay on the pods they reach now, and the release starts again on it once they are`,
            restart: true,
          },
        },
      };
    }
    const status = await router.reset({ ...rebased, state: { ...state, targets: rebased.targets } });
    const restart = ctx.spec.onTargetChange !== 'hold';
    const event: EngineEvent = {
      type: 'targetChanged',
      at: now(),
      stable: current,
      result: { router: status },
      restart,
      reason: `${stable.changed}; all traffic is back on ${ctx.spec.target.name} as it now is${
        restart ? '' : ', resume() starts the release again on it, abort() ends it'
      }`,
    };
    return { event };
  }

  for (const side of sidesWithShare(state, inFlight)) {
    const found = side === 'stable' ? stable : await endpoints(ctx, side);
    if (found.ready > 0) continue;
    const other: Side = side === 'stable' ? 'canary' : 'stable';
    const rescue = other === 'stable' ? stable : await endpoints(ctx, other);
    if (rescue.ready === 0) {
      return { warning: `${found.message}, and ${rescue.message}: no side can serve; routing left as it is` };
    }
    // Users go to the side that can serve: back to the stable, or (the stable gone) on to the canary.
    // A canary whose revision is not recorded yet (the stable deleted while the release was still
    // making it) is described now, or the router would not know which pods to send users to (chaos
    // seed 79 with a controller that reacts late: 46 s of 503s while green served).
    const rescueCtx =
      other === 'canary' && !ctx.targets.canary?.podTemplateHash ? await withCanaryAsNow(workload, ctx) : ctx;
    const status = other === 'stable' ? await router.reset(ctx) : await router.setWeight(rescueCtx, 100);
    const event: EngineEvent = {
      type: 'held',
      at: now(),
      cause: {
        kind: 'unready',
        side,
        reason: `${found.message}: all traffic moved to the ${other}; resume() starts the steps again once it is back, abort() rolls back`,
        restart: true,
      },
      result: { router: status },
      cleared: other === 'stable',
    };
    return { event };
  }

  // A replica-ratio split is the pods' sizes: someone who scaled the stable down (chaos seeds 3690,
  // 4353: 1 pod left beside the canary's 1 at a 20% step) sends the canary more users than the
  // step allows. The canary (Kanary's) shrinks to fit, the person's size stays, and the release
  // holds for a person: resume() sizes both sides for the steps again, abort() rolls back.
  const waiting = !inFlight || inFlight.type === 'pause' || inFlight.type === 'analysis';
  if (
    router.capabilities.weights === 'replicas' &&
    state.cursor.section === 'steps' &&
    waiting &&
    !state.held
  ) {
    const written = state.weights.canary;
    const live = await router.status(ctx);
    // The most the steps so far asked for (a step skipped while its pods moved counts: chaos seed
    // 4112 skipped a move to 100% half way, and the pods it had moved were taken for a person's).
    const reached = Math.max(
      written,
      ...ctx.spec.steps.slice(0, state.cursor.step + 1).map((s) => ('setWeight' in s ? s.setWeight : 0)),
    );
    if (written > 0 && written < 100 && live.canaryWeight > written + 0.5 && live.canaryWeight <= reached) {
      return {
        event: {
          type: 'rerouted',
          at: now(),
          result: { router: live },
          reason: `the pods give the canary ${live.canaryWeight}%, part of a move to ${reached}% that a control cut short: recorded as the weight now`,
        },
      };
    }
    if (written > 0 && written < 100 && live.canaryWeight > written + 0.5) {
      const fit = Math.floor((stable.ready * written) / (100 - written));
      await workload.scale(ctx, 'canary', { replicas: fit });
      // The split is the sizes now: recorded, so the next look judges the sides users reach (with
      // no canary pod left, none reach it; chaos seed 1820 held the release again as "canary unready").
      const after = await router.status(ctx);
      return {
        event: {
          type: 'held',
          at: now(),
          result: { router: fit === 0 ? { ...after, canaryWeight: 0 } : after },
          cause: {
            kind: 'drift',
            side: 'stable',
            reason: `the pods' sizes give the canary ${live.canaryWeight}% where the step is ${written}% (someone scaled a side): the canary was scaled to ${fit} pod${fit === 1 ? '' : 's'} beside the stable's ${stable.ready} ready; resume() sizes both sides for the steps again, abort() rolls back`,
            restart: false,
          },
        },
      };
    }
  }
  return {};
}

/**
 * One look during a blue-green release's scale-down delay, when the old version (blue) is kept up
 * so that going back is one routing write: has the promoted version (green) lost every ready pod
 * while blue still serves? Then the release regresses and rolls back (chaos seeds 3301, 4450,
 * 5505: green crash-looped after the switch and every request failed while blue sat idle and the
 * rollout said `succeeded`). Reads only; the caller records the event and the abort does the rest.
 */
export async function watchRetirement(
  workload: WorkloadDriver,
  ctx: PortContext,
  now: () => number,
): Promise<Extract<EngineEvent, { type: 'regressed' }> | undefined> {
  const endpoints = workload.endpoints?.bind(workload);
  if (!endpoints || ctx.state.phase !== 'succeeded' || ctx.state.cursor.section !== 'promotion') return;
  const green = await endpoints(ctx, 'canary');
  if (green.ready > 0) return;
  const blue = await endpoints(ctx, 'stable');
  if (blue.ready === 0) return;
  return {
    type: 'regressed',
    at: now(),
    reason: `${green.message} before the previous version was scaled down, and that version still serves: rolling back to it`,
  };
}
