import type { HistoryEntry, RolloutState } from '../engine/state.ts';
import type { Transition, TransitionRecorder } from '../engine/transitions.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import { redact } from '../security/redact.ts';
import type { KubeClient, KubeObject } from './client.ts';

/** What a release's transition says to a person running `kubectl describe deployment`. */
export interface ReleaseEvent {
  type: 'Normal' | 'Warning';
  /** UpperCamelCase, as Kubernetes' own reasons (`ScalingReplicaSet`). */
  reason: string;
  message: string;
}

/** History entries worth an Event, by the entry's `event`: [type, reason]. */
const BY_ENTRY: Record<string, [ReleaseEvent['type'], string]> = {
  start: ['Normal', 'ReleaseStarted'],
  analysis: ['Normal', 'AnalysisPassed'],
  abort: ['Warning', 'Aborted'],
  failed: ['Warning', 'ActionFailed'],
  retireFailed: ['Warning', 'RetireFailed'],
  held: ['Warning', 'Held'],
  rerouted: ['Warning', 'Rerouted'],
  targetChanged: ['Warning', 'TargetChanged'],
  regressed: ['Warning', 'Regressed'],
  promote: ['Normal', 'PromoteRequested'],
  promoteFull: ['Normal', 'PromoteFullRequested'],
  pause: ['Normal', 'PauseRequested'],
  resume: ['Normal', 'Resumed'],
  retry: ['Normal', 'Retried'],
  skipStep: ['Normal', 'StepSkipped'],
  adopted: ['Normal', 'Adopted'],
  rebased: ['Normal', 'Rebased'],
  note: ['Normal', 'Note'],
};

/** A step whose effect is a weight (its WeightChanged Event says it). */
const isWeightStep = (step: object | undefined) => step !== undefined && 'setWeight' in step;

/** A person's controls: the message says which. */
const CONTROLS = new Set(['promote', 'promoteFull', 'pause', 'resume', 'retry', 'skipStep']);

const MAX_MESSAGE = 1024;
const clip = (text: string) => {
  const s = redact(text);
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE - 1)}…` : s;
};

function newEntries(prev: RolloutState | undefined, next: RolloutState): HistoryEntry[] {
  const after = prev?.history.at(-1)?.seq ?? Number.NEGATIVE_INFINITY;
  return next.history.filter((h) => h.seq > after);
}

/**
 * The Events one transition is worth, in the order they happened: its history entries (a step
 * begun, an analysis verdict, an abort and why, a person's control), the weight it set, and the
 * release's end. Pure, so a host that reports elsewhere (chat, an audit log) can reuse it.
 */
export function describeTransition(t: Transition): ReleaseEvent[] {
  const { prev, next, plan } = t;
  const out: ReleaseEvent[] = [];
  const titleOf = (index: number) => {
    const step = plan.steps[index];
    return step ? `step ${step.index + 1} of ${plan.steps.length}: ${step.title}` : undefined;
  };
  const stepTitle = () => titleOf(next.cursor.step);
  // The weight first: it is the effect of the action that completed, before the next step begins.
  const w = next.weights;
  const promotedAway = next.phase === 'succeeded' && w.canary === 0; // the canary became the stable
  if (prev && !promotedAway && (prev.weights.canary !== w.canary || (!prev.weights.verified && w.verified))) {
    // A weight step's own change names the step (its start has no Event of its own).
    const byStep =
      prev.cursor.section === 'steps' && isWeightStep(plan.steps[prev.cursor.step]?.step)
        ? `${titleOf(prev.cursor.step)}: `
        : '';
    out.push({
      type: 'Normal',
      reason: 'WeightChanged',
      message: `${byStep}canary ${w.canary}%, stable ${100 - w.canary}%${w.verified ? '' : ' (not yet verified)'}${
        w.effective !== undefined && w.effective !== w.canary ? `, effective ${w.effective}%` : ''
      }`,
    });
  }
  for (const h of newEntries(prev, next)) {
    if (h.event === 'start') {
      out.push({
        type: 'Normal',
        reason: 'ReleaseStarted',
        message: `release started: ${plan.steps.length} step${plan.steps.length === 1 ? '' : 's'}`,
      });
      continue;
    }
    if (h.event === 'advance') {
      const section = next.cursor.section;
      // A pause's start says itself as Paused, a weight step's as WeightChanged: one Event each.
      const step = section === 'steps' ? plan.steps[next.cursor.step]?.step : undefined;
      if (isWeightStep(step) || (step && 'pause' in step)) continue;
      const message =
        section === 'steps'
          ? stepTitle()
          : section === 'promotion'
            ? 'promotion started: the new version takes over'
            : section === 'abort'
              ? 'rolling back: users go back to the stable version'
              : undefined; // retiring the old side: the phase change says it
      if (message) out.push({ type: 'Normal', reason: 'StepStarted', message });
      continue;
    }
    const known = BY_ENTRY[h.event];
    if (!known) continue;
    let [type, reason] = known;
    if (h.event === 'analysis' && h.detail?.includes('inconclusive'))
      [type, reason] = ['Warning', 'AnalysisInconclusive'];
    const control = CONTROLS.has(h.event) ? `${h.event}${h.detail ? `: ${h.detail}` : ''}` : undefined;
    out.push({ type, reason, message: clip(control ?? h.detail ?? h.event) });
  }
  if (prev?.phase !== next.phase) {
    if (next.phase === 'succeeded')
      out.push({ type: 'Normal', reason: 'Succeeded', message: 'the new version is promoted' });
    else if (next.phase === 'aborted')
      out.push({
        type: 'Normal',
        reason: 'RolledBack',
        message: clip(`users are back on the stable version${next.abort ? ` (${next.abort.reason})` : ''}`),
      });
    else if (next.phase === 'failed')
      out.push({
        type: 'Warning',
        reason: 'Failed',
        message: clip(next.error?.message ?? 'the release failed and needs a person'),
      });
    else if (next.phase === 'paused' && !out.some((e) => e.reason === 'PauseRequested'))
      out.push({
        type: 'Normal',
        reason: 'Paused',
        message: clip(
          next.held
            ? `held: ${next.held.reason}`
            : next.inconclusive
              ? `waiting for a person: analysis ${next.inconclusive.key} was inconclusive`
              : `paused at ${stepTitle() ?? 'the current step'}`,
        ),
      });
  }
  return out;
}

export interface EventRecorderOptions {
  client: KubeClient;
  clock?: Clock;
  /** The Deployment the Events are about (default: the release's stable workload once known). */
  target?: string;
  /** `source.component` and `reportingComponent` of the Events (default `kanary`). */
  component?: string;
}

const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Kubernetes Events (core/v1) on the rollout's target Deployment for each transition, as Argo
 * Rollouts and Flagger write theirs, so `kubectl describe deployment`, `kubectl events` and event
 * exporters show the release. Best effort, as client-go's recorder: a write that fails is dropped
 * and the release goes on. Writes go out one at a time, in order.
 */
export function createEventRecorder(options: EventRecorderOptions): TransitionRecorder {
  const { client } = options;
  const clock = options.clock ?? client.clock ?? systemClock;
  const component = options.component ?? 'kanary';
  const uids = new Map<string, string | undefined>();
  let chain: Promise<void> = Promise.resolve();
  let seq = 0;
  const uidOf = async (namespace: string, name: string) => {
    const key = `${namespace}/${name}`;
    if (!uids.has(key)) {
      const d = await client.get({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name });
      if (!d) return undefined;
      uids.set(key, d.metadata.uid);
    }
    return uids.get(key);
  };
  return (t) => {
    const events = describeTransition(t);
    if (events.length === 0) return;
    const namespace = t.next.key.namespace;
    const target = options.target ?? t.next.targets.stable?.name ?? t.next.key.name;
    chain = chain.then(async () => {
      try {
        const uid = await uidOf(namespace, target);
        for (const e of events) {
          const now = clock.now();
          seq += 1;
          const event: KubeObject = {
            apiVersion: 'v1',
            kind: 'Event',
            // client-go names an Event `<object>.<hex time>`; the random part keeps two processes apart.
            metadata: {
              name: `${target}.${(now * 1000 + (seq % 1000)).toString(16)}${Math.random().toString(16).slice(2, 6)}`,
              namespace,
            },
            involvedObject: {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              namespace,
              name: target,
              ...(uid ? { uid } : {}),
            },
            type: e.type,
            reason: e.reason,
            message: e.message,
            source: { component },
            reportingComponent: component,
            reportingInstance: t.holder,
            firstTimestamp: seconds(now),
            lastTimestamp: seconds(now),
            count: 1,
          };
          await client.create(event);
        }
      } catch {
        // Dropped, as client-go drops an Event it cannot write: the release must not wait on it.
      }
    });
  };
}
