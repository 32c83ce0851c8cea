import { admitCustomResource } from './crd/index.ts';
import type { KindInfo } from './kinds.ts';
import { isPlainObject, type KubeObject } from './object.ts';

// kube-apiserver's defaulting for the fields Kanary reads or compares. Defaulting happens
// before the pod-template-hash is computed, as on the real server.

type Obj = Record<string, unknown>;
let nextClusterIp = 10;
let nextNodePort = 80;

function defaultContainer(c: Obj): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  const image = String(c.image ?? '');
  c.imagePullPolicy ??= image.endsWith(':latest') || !image.includes(':') ? 'Always' : 'IfNotPresent';
  for (const p of (c.ports as Obj[] | undefined) ?? []) p.protocol ??= 'TCP';
}

export function defaultPodSpec(spec: unknown): void {
  if (!isPlainObject(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  for (const c of (spec.containers as Obj[] | undefined) ?? []) if (isPlainObject(c)) defaultContainer(c);
  for (const c of (spec.initContainers as Obj[] | undefined) ?? []) if (isPlainObject(c)) defaultContainer(c);
}

export function applyDefaults(
  info: KindInfo,
  obj: KubeObject,
  old: KubeObject | undefined,
  _store: unknown,
): void {
  if (!info.builtin) {
    admitCustomResource(info, obj);
    return;
  }
  const spec = (obj.spec ?? {}) as Obj;
  switch (info.kind) {
    case 'Namespace':
      obj.spec = { finalizers: ['kubernetes'], ...spec };
      obj.status = { phase: 'Active' };
      break;
    case 'Deployment': {
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      // `paused` is `omitempty` in the API types: a real server never returns `paused: false`.
      if (spec.paused === false) delete spec.paused;
      spec.strategy ??= {};
      const strategy = spec.strategy as Obj;
      strategy.type ??= 'RollingUpdate';
      if (strategy.type === 'RollingUpdate') {
        strategy.rollingUpdate ??= {};
        const ru = strategy.rollingUpdate as Obj;
        ru.maxSurge ??= '25%';
        ru.maxUnavailable ??= '25%';
      }
      defaultPodSpec((spec.template as Obj | undefined)?.spec);
      obj.spec = spec;
      break;
    }
    case 'ReplicaSet':
      spec.replicas ??= 1;
      defaultPodSpec((spec.template as Obj | undefined)?.spec);
      obj.spec = spec;
      break;
    case 'Pod':
      defaultPodSpec(spec);
      obj.spec = spec;
      obj.status ??= { phase: 'Pending' };
      break;
    case 'Service': {
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      if (spec.type !== 'ExternalName') {
        const previous = (old?.spec as Obj | undefined)?.clusterIP;
        if (spec.clusterIP === undefined) {
          spec.clusterIP =
            previous ?? `10.96.${Math.floor(nextClusterIp / 250)}.${(nextClusterIp++ % 250) + 1}`;
        }
        spec.clusterIPs ??= [spec.clusterIP];
        spec.ipFamilies ??= ['IPv4'];
        spec.ipFamilyPolicy ??= 'SingleStack';
        spec.internalTrafficPolicy ??= 'Cluster';
      }
      const before = ((old?.spec as Obj | undefined)?.ports as Obj[] | undefined) ?? [];
      for (const p of (spec.ports as Obj[] | undefined) ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
        // A NodePort or LoadBalancer Service gets a node port for each port it does not name one for
        // (from 30000–32767), and keeps it across updates, as the service REST storage allocates.
        if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort === undefined) {
          const kept = before.find(
            (b) => b.port === p.port && (b.protocol ?? 'TCP') === p.protocol,
          )?.nodePort;
          p.nodePort = kept ?? 30000 + (nextNodePort++ % 2768);
        }
      }
      obj.spec = spec;
      obj.status ??= { loadBalancer: {} };
      break;
    }
  }
}
