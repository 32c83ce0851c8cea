import { KIND } from '../apiserver/kinds.ts';
import type { KubeObject } from '../apiserver/object.ts';
import { ApiError } from '../apiserver/status.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import { ControllerBase, type ControllerContext, type Obj, specOf, statusOf } from './controller.ts';
import { preStopMs, terminatingSince } from './termination.ts';

/** How pods of a version behave while starting. Matched by image or by labels. */
export interface PodBehavior {
  /** Time from creation to Ready (default: the cluster's `podReadyAfterMs`). */
  readyAfterMs?: number;
  /** Running but never Ready (a failing readiness probe). */
  neverReady?: boolean;
  /** Crash-looping: never Ready, restartCount grows. */
  crashLoop?: boolean;
}

export interface PodBehaviorRule {
  image?: string | RegExp;
  labels?: Record<string, string>;
  behavior: PodBehavior;
}

/**
 * The kubelet of the emulator's one node: a new pod gets an IP and turns Ready after its
 * behaviour's time (or never, or crash-loops); a deleted one runs its preStop hooks, gets SIGTERM
 * and is removed once its containers have exited or its grace period ends.
 */
export class Kubelet extends ControllerBase {
  readonly kinds = [] as const;
  readonly #readyAfterMs: number;
  readonly #behaviors: PodBehaviorRule[] = [];
  #podIp = 0;
  /** Pods being stopped, by uid: one kill each. */
  readonly #stopping = new Set<string>();

  constructor(ctx: ControllerContext, readyAfterMs: number) {
    super(ctx);
    this.#readyAfterMs = readyAfterMs;
  }

  onEvent(e: StoreEvent): void {
    if (e.info.kind !== 'Pod') return;
    if (e.type === 'ADDED') this.#startPod(e.object);
    if (e.type === 'MODIFIED' && e.object.metadata.deletionTimestamp) this.#stopPod(e.object);
  }

  reconcile(): void {}

  setPodBehavior(rule: PodBehaviorRule): void {
    this.#behaviors.unshift(rule);
  }

  /**
   * Pods of a version start crashing now (a bad config reloaded, a dependency gone): the running
   * ones stop being Ready and crash-loop, and so do any started later. Returns how many were running.
   */
  crashPods(match: Omit<PodBehaviorRule, 'behavior'>): number {
    const rule = { ...match, behavior: { crashLoop: true } };
    this.setPodBehavior(rule);
    const running = this.ctx.store
      .select(KIND.pod, undefined, () => true)
      .filter((p) => this.behaviorOf(p) === rule.behavior && !p.metadata.deletionTimestamp);
    for (const pod of running) this.#startPod(pod);
    return running.length;
  }

  behaviorOf(pod: KubeObject): PodBehavior {
    const containers = (specOf<Obj>(pod).containers as Obj[] | undefined) ?? [];
    for (const rule of this.#behaviors) {
      const imageOk =
        rule.image === undefined ||
        containers.some((c) =>
          typeof rule.image === 'string'
            ? c.image === rule.image
            : (rule.image as RegExp).test(String(c.image)),
        );
      const labelsOk =
        rule.labels === undefined ||
        Object.entries(rule.labels).every(([k, v]) => pod.metadata.labels?.[k] === v);
      if (imageOk && labelsOk) return rule.behavior;
    }
    return {};
  }

  #startPod(pod: KubeObject): void {
    const { store, clock, queue } = this.ctx;
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name as string;
    // A restarted container keeps its pod's IP.
    const known = statusOf<Obj>(pod).podIP as string | undefined;
    const n = known ? 0 : ++this.#podIp;
    const ip = known ?? `10.244.${Math.floor(n / 250)}.${(n % 250) + 1}`;
    const behavior = this.behaviorOf(pod);
    const containers = (specOf<Obj>(pod).containers as Obj[]).map((c) => c.name as string);
    const setStatus = (ready: boolean, restarts = 0) => {
      const current = store.get(KIND.pod, ns, name);
      if (!current) return;
      const now = new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      // A condition's lastTransitionTime moves only when its status does (minReadySeconds counts from it).
      const before = (statusOf<Obj>(current).conditions as Obj[] | undefined) ?? [];
      const since = (type: string) => {
        const was = before.find((c) => c.type === type);
        return was && (was.status === 'True') === ready
          ? ((was.lastTransitionTime as string | undefined) ?? now)
          : now;
      };
      const image = (c: string) =>
        (specOf<Obj>(current).containers as Obj[]).find((x) => x.name === c)?.image as string | undefined;
      const status: Obj = {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        hostIP: '172.18.0.2',
        startTime: (statusOf<Obj>(current).startTime as string | undefined) ?? now,
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Initialized', status: 'True' },
          {
            type: 'ContainersReady',
            status: ready ? 'True' : 'False',
            lastTransitionTime: since('ContainersReady'),
          },
          { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: since('Ready') },
        ],
        containerStatuses: containers.map((c) => ({
          name: c,
          ready,
          started: !behavior.crashLoop,
          restartCount: restarts,
          image: image(c) ?? '',
          imageID: `docker-pullable://${String(image(c))}@sha256:${'0'.repeat(64)}`,
          state: behavior.crashLoop
            ? { waiting: { reason: 'CrashLoopBackOff' } }
            : { running: { startedAt: now } },
        })),
      };
      store.update(KIND.pod, ns, { ...current, status }, { manager: 'kubelet', subresource: 'status' });
    };
    // creationTimestamp has whole seconds only: the start is taken here, when the pod is created.
    const started = clock.now();
    queue.later(() => {
      setStatus(false);
      if (behavior.crashLoop) {
        let restarts = 0;
        const loop = async () => {
          while (!queue.stopped && store.get(KIND.pod, ns, name)) {
            if (await queue.sleep(10_000 * Math.min(2 ** restarts, 30))) setStatus(false, ++restarts);
          }
        };
        void loop();
        return;
      }
      if (behavior.neverReady) return;
      // Counted from the pod's creation, as its doc says: the kubelet's own reaction is part of it.
      const elapsed = clock.now() - started;
      const delay = Math.max(0, (behavior.readyAfterMs ?? this.#readyAfterMs) - elapsed);
      void queue.sleep(delay).then((due) => {
        // Pods told to crash meanwhile (`crashPods`) never get there.
        if (due && !this.behaviorOf(pod).crashLoop) setStatus(true);
      });
    });
  }

  /**
   * The kubelet stops a deleted pod: its preStop hooks run (the app still serves), then SIGTERM, and
   * once the containers have exited (at once, or when the grace period ends) the pod is removed.
   */
  #stopPod(pod: KubeObject): void {
    const { store, clock, queue } = this.ctx;
    const uid = pod.metadata.uid as string;
    if (this.#stopping.has(uid)) return;
    this.#stopping.add(uid);
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name as string;
    const since = terminatingSince(pod) ?? clock.now();
    const grace = (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
    const exitAt = since + Math.min(preStopMs(pod), grace);
    void queue.sleep(Math.max(0, exitAt - clock.now())).then(
      (due) =>
        due &&
        queue.later(() => {
          this.#stopping.delete(uid);
          const current = store.get(KIND.pod, ns, name);
          if (current?.metadata.uid !== uid) return;
          try {
            store.delete(KIND.pod, ns, name, { gracePeriodSeconds: 0 });
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
          }
        }),
      () => undefined,
    );
  }
}
