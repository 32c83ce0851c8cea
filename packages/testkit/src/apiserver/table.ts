/**
 * Server-side printing: what `kubectl get` shows. kubectl asks for
 * `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the server's columns; without a Table
 * it falls back to NAME and AGE. The columns are kube-apiserver's printers
 * (pkg/printers/internalversion/printers.go) and the CRDs' additionalPrinterColumns.
 */
import type { KindInfo } from './kinds.ts';
import { fieldAt, type KubeObject } from './object.ts';

type Obj = Record<string, unknown>;
interface Column {
  name: string;
  type: 'string' | 'integer';
  format?: 'name';
  priority?: number;
  cell: (o: KubeObject, now: number) => string | number;
}

/** Whether the Accept header asks for a Table (kubectl get sends it first in its list). */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '') && /g=meta\.k8s\.io/.test(accept ?? '');
}

/** k8s.io/apimachinery's duration.HumanDuration: the AGE column's format. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8)
    return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    return days === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

const get = fieldAt;
const num = (v: unknown) => (typeof v === 'number' ? v : 0);
const list = (v: unknown) => (Array.isArray(v) ? (v as Obj[]) : []);
const orNone = (s: string) => (s === '' ? '<none>' : s);
/** A custom resource's column over a list: its JSON, as the server formats non-scalar values. */
const jsonCell = (v: unknown) => (v === undefined ? '' : JSON.stringify(v));

const NAME: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name ?? '' };
const AGE: Column = {
  name: 'Age',
  type: 'string',
  cell: (o, now) => {
    const created = Date.parse(o.metadata.creationTimestamp ?? '');
    return Number.isNaN(created) ? '<unknown>' : humanDuration(now - created);
  },
};
const containers = (o: KubeObject) => list(get(o, 'spec', 'template', 'spec', 'containers'));
const selectorText = (sel: unknown) =>
  orNone(
    Object.entries((get(sel, 'matchLabels') ?? sel ?? {}) as Record<string, string>)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
const WORKLOAD_WIDE: Column[] = [
  {
    name: 'Containers',
    type: 'string',
    priority: 1,
    cell: (o) =>
      containers(o)
        .map((c) => c.name)
        .join(','),
  },
  {
    name: 'Images',
    type: 'string',
    priority: 1,
    cell: (o) =>
      containers(o)
        .map((c) => c.image)
        .join(','),
  },
  { name: 'Selector', type: 'string', priority: 1, cell: (o) => selectorText(get(o, 'spec', 'selector')) },
];

/** A pod's STATUS: its phase, or the reason a container waits or why it is going. */
function podStatus(o: KubeObject): string {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  for (const c of list(get(o, 'status', 'containerStatuses'))) {
    const waiting = get(c, 'state', 'waiting', 'reason');
    if (typeof waiting === 'string' && waiting) return waiting;
  }
  return String(get(o, 'status', 'phase') ?? 'Pending');
}

function servicePorts(o: KubeObject): string {
  return orNone(
    list(get(o, 'spec', 'ports'))
      .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
      .join(','),
  );
}

function endpointsText(o: KubeObject): string {
  const all: string[] = [];
  for (const s of list((o as Obj).subsets))
    for (const a of list(s.addresses)) {
      const ports = list(s.ports);
      if (ports.length === 0) all.push(String(a.ip));
      for (const p of ports) all.push(`${a.ip}:${p.port}`);
    }
  if (all.length === 0) return '<none>';
  return all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
}

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const cs = list(get(o, 'status', 'containerStatuses'));
        const total = list(get(o, 'spec', 'containers')).length;
        return `${cs.filter((c) => c.ready === true).length}/${total}`;
      },
    },
    { name: 'Status', type: 'string', cell: podStatus },
    {
      name: 'Restarts',
      type: 'string',
      cell: (o) =>
        String(list(get(o, 'status', 'containerStatuses')).reduce((n, c) => n + num(c.restartCount), 0)),
    },
    AGE,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => orNone(String(get(o, 'status', 'podIP') ?? '')) },
    {
      name: 'Node',
      type: 'string',
      priority: 1,
      cell: (o) => orNone(String(get(o, 'spec', 'nodeName') ?? '')),
    },
  ],
  Deployment: [
    NAME,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => `${num(get(o, 'status', 'readyReplicas'))}/${num(get(o, 'spec', 'replicas'))}`,
    },
    { name: 'Up-to-date', type: 'integer', cell: (o) => num(get(o, 'status', 'updatedReplicas')) },
    { name: 'Available', type: 'integer', cell: (o) => num(get(o, 'status', 'availableReplicas')) },
    AGE,
    ...WORKLOAD_WIDE,
  ],
  ReplicaSet: [
    NAME,
    { name: 'Desired', type: 'integer', cell: (o) => num(get(o, 'spec', 'replicas')) },
    { name: 'Current', type: 'integer', cell: (o) => num(get(o, 'status', 'replicas')) },
    { name: 'Ready', type: 'integer', cell: (o) => num(get(o, 'status', 'readyReplicas')) },
    AGE,
    ...WORKLOAD_WIDE,
  ],
  Service: [
    NAME,
    { name: 'Type', type: 'string', cell: (o) => String(get(o, 'spec', 'type') ?? 'ClusterIP') },
    { name: 'Cluster-IP', type: 'string', cell: (o) => orNone(String(get(o, 'spec', 'clusterIP') ?? '')) },
    { name: 'External-IP', type: 'string', cell: () => '<none>' },
    { name: 'Port(s)', type: 'string', cell: servicePorts },
    AGE,
    { name: 'Selector', type: 'string', priority: 1, cell: (o) => selectorText(get(o, 'spec', 'selector')) },
  ],
  Endpoints: [NAME, { name: 'Endpoints', type: 'string', cell: endpointsText }, AGE],
  ConfigMap: [
    NAME,
    {
      name: 'Data',
      type: 'integer',
      cell: (o) =>
        Object.keys(((o as Obj).data as Obj | undefined) ?? {}).length +
        Object.keys(((o as Obj).binaryData as Obj | undefined) ?? {}).length,
    },
    AGE,
  ],
  Namespace: [
    NAME,
    { name: 'Status', type: 'string', cell: (o) => String(get(o, 'status', 'phase') ?? 'Active') },
    AGE,
  ],
  Ingress: [
    NAME,
    { name: 'Class', type: 'string', cell: (o) => orNone(String(get(o, 'spec', 'ingressClassName') ?? '')) },
    {
      name: 'Hosts',
      type: 'string',
      cell: (o) =>
        list(get(o, 'spec', 'rules'))
          .map((r) => r.host ?? '*')
          .join(',') || '*',
    },
    { name: 'Address', type: 'string', cell: () => '' },
    {
      name: 'Ports',
      type: 'string',
      cell: (o) => (list(get(o, 'spec', 'tls')).length > 0 ? '80, 443' : '80'),
    },
    AGE,
  ],
  // kubectl get events: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE.
  Event: [
    {
      name: 'Last Seen',
      type: 'string',
      cell: (o, now) => {
        const last = Date.parse(String(get(o, 'lastTimestamp') ?? get(o, 'eventTime') ?? ''));
        return Number.isNaN(last) ? '<unknown>' : humanDuration(now - last);
      },
    },
    { name: 'Type', type: 'string', cell: (o) => String(get(o, 'type') ?? '') },
    { name: 'Reason', type: 'string', cell: (o) => String(get(o, 'reason') ?? '') },
    {
      name: 'Object',
      type: 'string',
      cell: (o) =>
        `${String(get(o, 'involvedObject', 'kind') ?? '').toLowerCase()}/${String(get(o, 'involvedObject', 'name') ?? '')}`,
    },
    { name: 'Message', type: 'string', cell: (o) => String(get(o, 'message') ?? '') },
  ],
  Lease: [
    NAME,
    { name: 'Holder', type: 'string', cell: (o) => String(get(o, 'spec', 'holderIdentity') ?? '') },
    AGE,
  ],
  // The CRDs' additionalPrinterColumns (Istio networking, Gateway API standard channel).
  VirtualService: [
    NAME,
    { name: 'Gateways', type: 'string', cell: (o) => jsonCell(get(o, 'spec', 'gateways')) },
    { name: 'Hosts', type: 'string', cell: (o) => jsonCell(get(o, 'spec', 'hosts')) },
    AGE,
  ],
  DestinationRule: [
    NAME,
    { name: 'Host', type: 'string', cell: (o) => String(get(o, 'spec', 'host') ?? '') },
    AGE,
  ],
  HTTPRoute: [
    NAME,
    { name: 'Hostnames', type: 'string', cell: (o) => jsonCell(get(o, 'spec', 'hostnames')) },
    AGE,
  ],
};

/** Objects as a meta.k8s.io/v1 Table, each row with the object's metadata (includeObject=Metadata). */
export function toTable(info: KindInfo, objects: KubeObject[], resourceVersion: string, now: number): Obj {
  const columns = COLUMNS[info.kind] ?? [NAME, AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: '',
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      object: {
        kind: 'PartialObjectMetadata',
        apiVersion: 'meta.k8s.io/v1',
        metadata: o.metadata,
      },
    })),
  };
}
