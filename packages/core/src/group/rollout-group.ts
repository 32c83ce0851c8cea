import { EventEmitter } from 'eventemitter3';
import type { Rollout } from '../engine/rollout.ts';
import type { RolloutState } from '../engine/state.ts';
import { KanaryError } from '../errors/kanary-error.ts';
import type { HookContext, HookHandlers } from '../ports/hooks.ts';

export interface RolloutGroupMember {
  name: string;
  /** Makes the member's rollout with the hooks the group needs (merge them with your own). */
  create(hooks: HookHandlers): Rollout;
}

export interface RolloutGroupOptions {
  name: string;
  members: RolloutGroupMember[];
}

export interface RolloutGroupEvents {
  /** Every member reached this point; they continue together. */
  barrier: [event: { point: string }];
  abort: [event: { member: string; reason: string }];
  done: [states: Record<string, RolloutState>];
}

export interface RolloutGroup {
  readonly name: string;
  readonly members: Readonly<Record<string, Rollout>>;
  /** Drives every member; resolves when all have finished. */
  run(): Promise<Record<string, RolloutState>>;
  /** Aborts every member that can still be aborted. */
  abort(reason?: string): Promise<void>;
  /** Promotes every member waiting at a pause. */
  promote(): Promise<void>;
  on: EventEmitter<RolloutGroupEvents>['on'];
}

/**
 * Several services released as one (a front-end and its back-end). Members advance step by
 * step together — none starts step n+1 (or promotion) before all finished step n — a failed
 * check or an abort in one member aborts all, and promotion is all or nothing: no member
 * promotes until every member is ready to.
 */
export function createRolloutGroup(options: RolloutGroupOptions): RolloutGroup {
  const emitter = new EventEmitter<RolloutGroupEvents>();
  const names = options.members.map((m) => m.name);
  if (new Set(names).size !== names.length)
    throw new KanaryError('INVALID_SPEC', 'rollout group members need distinct names');
  /** Who has arrived at each barrier point, and the waiters to release. */
  const arrived = new Map<string, Set<string>>();
  const waiters = new Map<string, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  let aborted: string | undefined;

  const release = (point: string) => {
    for (const w of waiters.get(point) ?? []) w.resolve();
    waiters.delete(point);
    emitter.emit('barrier', { point });
  };
  const barrier = (member: string, point: string, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (aborted) return reject(new KanaryError('ABORTED', `group ${options.name} is aborting: ${aborted}`));
      const set = arrived.get(point) ?? new Set<string>();
      set.add(member);
      arrived.set(point, set);
      if (set.size === names.length) {
        resolve();
        release(point);
        return;
      }
      const list = waiters.get(point) ?? [];
      list.push({ resolve, reject });
      waiters.set(point, list);
      signal.addEventListener('abort', () => reject(new KanaryError('ABORTED', 'interrupted')), {
        once: true,
      });
    });
  const failAll = (reason: string) => {
    for (const list of waiters.values())
      for (const w of list) w.reject(new KanaryError('ABORTED', `group ${options.name}: ${reason}`));
    waiters.clear();
  };

  const members: Record<string, Rollout> = {};
  for (const m of options.members) {
    const hooks: HookHandlers = {
      step: (ctx: HookContext) => barrier(m.name, `step ${ctx.stepIndex}`, ctx.signal),
      'confirm-promotion': (ctx: HookContext) => barrier(m.name, 'promotion', ctx.signal),
    };
    const rollout = m.create(hooks);
    members[m.name] = rollout;
    rollout.on('abort', ({ reason }) => {
      if (aborted) return;
      aborted = `${m.name}: ${reason}`;
      emitter.emit('abort', { member: m.name, reason });
      failAll(aborted);
      for (const [other, r] of Object.entries(members)) {
        if (other !== m.name)
          r.abort(`group ${options.name}: ${m.name} aborted (${reason})`, { cause: 'group' }).catch(
            () => undefined,
          );
      }
    });
  }

  const group: RolloutGroup = {
    name: options.name,
    members,
    async run() {
      const counts = new Set(Object.values(members).map((r) => r.plan().steps.length));
      if (counts.size > 1) {
        throw new KanaryError(
          'INVALID_SPEC',
          `rollout group ${options.name}: members must have the same number of steps to advance together`,
        );
      }
      const results = await Promise.all(
        Object.entries(members).map(async ([n, r]) => [n, await r.run()] as const),
      );
      const states = Object.fromEntries(results);
      emitter.emit('done', states);
      return states;
    },
    async abort(reason = 'aborted by user') {
      aborted ??= reason;
      failAll(reason);
      await Promise.all(Object.values(members).map((r) => r.abort(reason).catch(() => undefined)));
    },
    async promote() {
      await Promise.all(Object.values(members).map((r) => r.promote().catch(() => undefined)));
    },
    on: (event, fn, context) => {
      emitter.on(event, fn, context);
      return emitter;
    },
  };
  return group;
}
