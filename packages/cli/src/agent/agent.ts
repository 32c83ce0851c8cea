import {
  type Clock,
  createKubeClient,
  createLeaseLock,
  type DurationInput,
  isRetiring,
  isStopped,
  type KubeClient,
  type KubeObject,
  OWNED_SELECTOR,
  parseDuration,
  type Rollout,
  type RolloutKey,
  type RolloutState,
  systemClock,
} from '@kanary/core';
import type { KubeConfig } from '@kubernetes/client-node';
import { EventEmitter } from 'eventemitter3';
import { type Credentials, rebuildRollout } from './rebuild.ts';

export interface AgentOptions {
  kubeConfig?: KubeConfig;
  client?: KubeClient;
  /** Namespaces to watch; default all the agent may list. */
  namespaces?: string[];
  /** This agent's identity in the Leases (unique per process; default from the pid). */
  holder?: string;
  /** The lease duration rollouts use (default 30s): the same for every process driving them. */
  lockTtl?: DurationInput;
  /** How often to list rollouts and look at their Leases (default 10s). */
  pollInterval?: DurationInput;
  /** Passed to the rollouts the agent drives (readiness polls, default 2s). */
  rolloutPollInterval?: DurationInput;
  credentials?: Credentials;
  clock?: Clock;
}

export type OrphanPolicy = 'abort' | 'hold' | 'continue';

export interface AgentEvents {
  /** The agent took a rollout over: with which policy, and what of it exists only in its host's code. */
  adopted: [event: { key: RolloutKey; policy: OrphanPolicy; code: string[]; phase: RolloutState['phase'] }];
  /** A rollout the agent will not drive, and why (held by policy, no wiring saved, unreadable state). */
  skipped: [event: { key: RolloutKey; reason: string }];
  /** A rollout the agent drove has stopped (ended, failed, or handed to another driver). */
  released: [event: { key: RolloutKey; phase?: RolloutState['phase']; error?: string }];
  error: [event: { message: string }];
}

export interface Agent {
  /** Watches until `close()`; resolves then. */
  run(): Promise<void>;
  close(): Promise<void>;
  /** The rollouts this agent drives now, by `namespace/name`. */
  readonly driving: ReadonlyMap<string, Rollout>;
  on: EventEmitter<AgentEvents>['on'];
  off: EventEmitter<AgentEvents>['off'];
}

const STATE_PREFIX = 'kanary-';

/**
 * The safety net behind the processes that drive rollouts: lists Kanary's state ConfigMaps, and
 * drives every rollout that is in flight but whose Lease has been released or stayed unrenewed
 * for its whole duration (observed on this process's own clock) — continuing steps and analysis
 * where they stopped. Parts that existed only as the original host's code decide by the spec's
 * `orphanPolicy`: `abort` (default), `hold`, or `continue` without them.
 */
export function createAgent(options: AgentOptions = {}): Agent {
  const clock = options.clock ?? systemClock;
  const client =
    options.client ??
    createKubeClient({ ...(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {}), clock });
  const holder = options.holder ?? `kanary-agent-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  const lockTtl = parseDuration(options.lockTtl ?? '30s', 'lockTtl');
  const pollMs = parseDuration(options.pollInterval ?? '10s', 'pollInterval');
  // One lock for every rollout: its observations of each Lease carry over from look to look.
  const lock = createLeaseLock({ client, clock });
  const emitter = new EventEmitter<AgentEvents>();
  const driving = new Map<string, Rollout>();
  const told = new Map<string, string>();
  const closed = new AbortController();
  let running: Promise<void> | undefined;

  const skip = (key: RolloutKey, reason: string) => {
    const id = `${key.namespace}/${key.name}`;
    if (told.get(id) === reason) return;
    told.set(id, reason);
    emitter.emit('skipped', { key, reason });
  };

  const list = async (): Promise<KubeObject[]> => {
    const selector = OWNED_SELECTOR;
    if (!options.namespaces) return client.list('v1', 'ConfigMap', undefined, selector);
    const lists = await Promise.all(
      options.namespaces.map((ns) => client.list('v1', 'ConfigMap', ns, selector)),
    );
    return lists.flat();
  };

  const look = async (cm: KubeObject) => {
    const name = cm.metadata.name.slice(STATE_PREFIX.length);
    const key = { namespace: cm.metadata.namespace as string, name };
    const id = `${key.namespace}/${key.name}`;
    if (!cm.metadata.name.startsWith(STATE_PREFIX) || driving.has(id)) return;
    let state: RolloutState;
    try {
      state = JSON.parse(
        (cm.data as Record<string, string> | undefined)?.['state.json'] ?? '',
      ) as RolloutState;
    } catch {
      return skip(key, 'its saved state is unreadable: `kanary abort --force` restores stable');
    }
    if (isStopped(state) && !isRetiring(state)) return;
    // A release that ended with its old version still to scale down: its driver comes back for it
    // when the delay is up; the agent does it only when that driver has not, a lease duration later.
    const due = isRetiring(state) ? state.action?.until : undefined;
    if (due !== undefined && clock.now() < due + lockTtl) return;
    if (!state.wiring)
      return skip(key, 'its state has no wiring (saved by an older Kanary); it cannot be rebuilt');
    const lease = await lock.inspect?.(key);
    if (lease && !lease.free && lease.record && lease.silentForMs < lease.record.durationMs) return;
    const wiring = state.wiring;
    const spec = wiring.spec as { orphanPolicy?: OrphanPolicy } | undefined;
    // Retiring needs no host code (no hooks are left) and is never rolled back: it is finished.
    const policy: OrphanPolicy =
      wiring.code.length === 0 || isRetiring(state) ? 'continue' : (spec?.orphanPolicy ?? 'abort');
    if (policy === 'hold')
      return skip(key, `orphanPolicy hold: ${wiring.code.join(', ')} exist only in its host's code`);
    let rollout: Rollout;
    try {
      rollout = rebuildRollout(wiring, {
        client,
        clock,
        lock,
        holder,
        lockTtl,
        ...(options.rolloutPollInterval !== undefined ? { pollInterval: options.rolloutPollInterval } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
      });
    } catch (error) {
      return skip(key, `it cannot be rebuilt: ${(error as Error).message}`);
    }
    driving.set(id, rollout);
    told.delete(id);
    // Adopted once it holds the lease (another agent may have been quicker: this one then waits).
    rollout.on('leadership', (e) => {
      if (e.status === 'acquired')
        emitter.emit('adopted', { key, policy, code: wiring.code, phase: state.phase });
    });
    const work =
      policy === 'abort'
        ? rollout.abort(
            `orphaned: its driver is gone, and ${wiring.code.join(', ')} exist only in its host's code`,
          )
        : rollout.run();
    void work
      .then(
        (final) => emitter.emit('released', { key, phase: final.phase }),
        (error: unknown) => emitter.emit('released', { key, error: (error as Error).message }),
      )
      .finally(() => driving.delete(id));
  };

  const loop = async () => {
    while (!closed.signal.aborted) {
      try {
        for (const cm of await list()) {
          if (closed.signal.aborted) break;
          await look(cm).catch((error: unknown) =>
            emitter.emit('error', { message: (error as Error).message }),
          );
        }
      } catch (error) {
        emitter.emit('error', { message: `listing rollouts failed: ${(error as Error).message}` });
      }
      await clock.sleep(pollMs, closed.signal);
    }
  };

  return {
    driving,
    run() {
      running ??= loop();
      return running;
    },
    async close() {
      closed.abort();
      await Promise.all([...driving.values()].map((r) => r.close()));
      await running;
    },
    on: (event, fn, context) => emitter.on(event, fn, context),
    off: (event, fn, context) => emitter.off(event, fn, context),
  };
}
