import { type CreateRolloutOptions, createRollout, type Rollout } from '../engine/rollout.ts';
import { KanaryError } from '../errors/kanary-error.ts';
import { createLeaseLock } from '../leadership/lease.ts';
import type { Lock } from '../ports/lock.ts';
import type { ApiVerb, Permission } from '../ports/permissions.ts';
import type { TrafficRouter } from '../ports/router.ts';
import type { StateStore } from '../ports/store.ts';
import type { WorkloadDriver } from '../ports/workload.ts';
import { createReplicaRatioRouter } from '../routers/replica-ratio.ts';
import { createServiceSelectorRouter } from '../routers/service-selector.ts';
import { parseRolloutSpec } from '../spec/parse.ts';
import { createConfigMapStateStore } from '../store/configmap-store.ts';
import { createDeploymentDriver, type DeploymentDriverOptions } from '../workloads/deployment-driver.ts';
import { createKubeClient, type KubeClient, type KubeClientOptions } from './client.ts';
import { createEventRecorder } from './events.ts';

export interface KubernetesRolloutOptions
  extends Omit<CreateRolloutOptions, 'workload' | 'router' | 'store' | 'lock'> {
  /** The host's KubeConfig (or `client`); defaults to `loadFromDefault()`. */
  kubeConfig?: KubeClientOptions['kubeConfig'];
  /** Where requests go instead of a kubeConfig (`inClusterConnection()`), when no `client` is given. */
  connection?: KubeClientOptions['connection'];
  client?: KubeClient;
  /** Required for weighted and headerMatch; blue-green and replica ratio default to their mesh-free routers. */
  router?: TrafficRouter;
  workload?: WorkloadDriver;
  store?: StateStore;
  lock?: Lock;
  preflight?: DeploymentDriverOptions['preflight'];
  /** Kubernetes Events on the target Deployment for each transition (default true); see `createEventRecorder`. */
  events?: boolean;
}

/**
 * A rollout wired to a cluster: Deployments as workloads, state in a ConfigMap, a Lease per
 * rollout, and — when the strategy needs no mesh — its router (Service selector for
 * blue-green, replica ratio for replicaRatio). Everything can be overridden.
 */
export function createKubernetesRollout(options: KubernetesRolloutOptions): Rollout {
  const spec = parseRolloutSpec(options.spec);
  const client =
    options.client ??
    createKubeClient({
      ...(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {}),
      ...(options.connection ? { connection: options.connection } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  const router =
    options.router ??
    (spec.strategy.type === 'blueGreen'
      ? createServiceSelectorRouter({ client })
      : spec.strategy.type === 'replicaRatio'
        ? createReplicaRatioRouter({ client })
        : undefined);
  if (!router && (spec.strategy.type === 'weighted' || spec.strategy.type === 'headerMatch')) {
    throw new KanaryError('UNSUPPORTED_CAPABILITY', `the ${spec.strategy.type} strategy needs a router`, {
      issues: [
        {
          path: 'router',
          message: 'no router was given',
          hint: 'pass router: createIstioRouter(...), createNginxRouter(...) or createGatewayApiRouter(...)',
          remedy: 'router',
        },
      ],
    });
  }
  const { kubeConfig: _k, connection: _n, client: _c, preflight, events, ...rest } = options;
  const record =
    options.record ??
    (events === false
      ? undefined
      : createEventRecorder({
          client,
          target: spec.target.name,
          ...(options.clock ? { clock: options.clock } : {}),
        }));
  const ns = spec.namespace;
  const permissions: Permission[] = [
    ...(options.store
      ? []
      : [
          {
            apiGroup: '',
            resource: 'configmaps',
            verbs: ['get', 'create', 'update', 'delete'] as ApiVerb[],
            namespace: ns,
            why: `the release's state (ConfigMap kanary-${spec.name})`,
          },
        ]),
    ...(options.lock
      ? []
      : [
          {
            apiGroup: 'coordination.k8s.io',
            resource: 'leases',
            verbs: ['get', 'create', 'update', 'delete'] as ApiVerb[],
            namespace: ns,
            why: `one driver at a time (Lease kanary-${spec.name}, and this process's heartbeat Lease)`,
          },
        ]),
    ...(record && !options.record
      ? [
          {
            apiGroup: '',
            resource: 'events',
            verbs: ['create'] as ApiVerb[],
            namespace: ns,
            why: 'Events on the target Deployment',
          },
          {
            apiGroup: 'apps',
            resource: 'deployments',
            verbs: ['get'] as ApiVerb[],
            namespace: ns,
            why: 'Events name the target Deployment by uid',
          },
        ]
      : []),
    ...(options.permissions ?? []),
  ];
  const rollout = createRollout({
    ...rest,
    spec,
    permissions,
    watched: client.watched,
    workload: options.workload ?? createDeploymentDriver({ client, ...(preflight ? { preflight } : {}) }),
    ...(router ? { router } : {}),
    store: options.store ?? createConfigMapStateStore({ client }),
    lock: options.lock ?? createLeaseLock({ client, ...(options.clock ? { clock: options.clock } : {}) }),
    unfence: options.unfence ?? ((ref, rollout) => client.unfence(ref, rollout)),
    ...(record ? { record } : {}),
  });
  if (!options.client) {
    // The client (its watches and connections) was made here, so it goes with the rollout.
    const close = rollout.close.bind(rollout);
    rollout.close = async () => {
      await close();
      await client.close();
    };
  }
  return rollout;
}
