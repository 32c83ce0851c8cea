import { EXIT } from '@kanary/cli';
import { type Cluster, istioApp, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { kanary, tempWriter, untilSettled } from './support.ts';

/**
 * Article 002 as its reader does it: the front-end and the back-end released as one, from one YAML
 * file and one `kanary run`, against the emulator on the wall clock.
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const write = tempWriter('kanary-article-002-');

async function start() {
  cluster = await startCluster({ time: 'real', podReadyAfterMs: 50, namespaces: ['shop'] });
  cluster.apply(
    ...istioApp('frontend', 'shop', 'frontend:v2.0', 2),
    ...istioApp('backend', 'shop', 'backend:v1.2', 2),
  );
  await untilSettled(cluster, 'shop');
  return { c: cluster, kubeconfig: write(`kubeconfig-${Date.now()}`, cluster.kubeConfig.exportConfig()) };
}

const member = (name: string, image: string, steps: unknown[]) => ({
  rollout: {
    name,
    namespace: 'shop',
    target: { name, service: name },
    update: { image },
    strategy: { type: 'weighted' },
    steps,
    scaleDownDelay: '0s',
    abortScaleDownDelay: '0s',
  },
  router: { istio: { virtualService: name, destinationRule: { name } } },
});
const groupFile = (backendSteps: unknown[], frontendSteps = backendSteps) =>
  write(
    `group-${Date.now()}.yaml`,
    stringify({
      group: {
        name: 'shop',
        members: {
          frontend: member('frontend', 'frontend:v2.1', frontendSteps),
          backend: member('backend', 'backend:v1.3', backendSteps),
        },
      },
    }),
  );
const image = (c: Cluster, name: string) =>
  (
    c.get('Deployment', 'shop', name)!.spec as {
      template: { spec: { containers: Array<{ image: string }> } };
    }
  ).template.spec.containers[0]?.image;

describe('article 002: front-end and back-end released as one, from one file', () => {
  it('plans both; one `kanary run` moves them step by step together and promotes both', async () => {
    const { c, kubeconfig } = await start();
    const path = groupFile([{ setWeight: 10 }, { pause: { duration: '1s' } }, { setWeight: 35 }]);
    const plan = await kanary(['plan', '-f', path]);
    expect(plan.code).toBe(EXIT.ok);
    expect(plan.out).toMatch(/member frontend/);
    expect(plan.out).toMatch(/member backend/);
    const r = await kanary(['run', '-f', path, '--kubeconfig', kubeconfig]);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/frontend \[[^\n]*step 1\/3/);
    expect(r.out).toMatch(/backend \[[^\n]*step 1\/3/);
    expect(r.out).toMatch(/frontend: promoted/);
    expect(r.out).toMatch(/backend: promoted/);
    expect([image(c, 'frontend'), image(c, 'backend')]).toEqual(['frontend:v2.1', 'backend:v1.3']);
    const status = await kanary(['status', '-f', path, '--kubeconfig', kubeconfig]);
    expect(status.out).toMatch(/member frontend:\nshop\/frontend\n\s+phase\s+succeeded/);
    expect(status.out).toMatch(/member backend:\nshop\/backend\n\s+phase\s+succeeded/);
  });

  it('an abort of one member (from another process) rolls both back: the run exits 1', async () => {
    const { c, kubeconfig } = await start();
    const path = groupFile([{ setWeight: 10 }, { pause: {} }, { setWeight: 35 }]);
    const running = kanary(['run', '-f', path, '--kubeconfig', kubeconfig]);
    // Both wait at the pause for a human; the back-end's owner rolls it back alone.
    for (let i = 0; i < 200; i++) {
      const s = await kanary(['status', '-f', path, '--kubeconfig', kubeconfig]);
      if ((s.out.match(/paused at step 2\/3/g) ?? []).length === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const backendOnly = write(
      'backend.yaml',
      stringify(member('backend', 'backend:v1.3', [{ setWeight: 10 }, { pause: {} }, { setWeight: 35 }])),
    );
    const abort = await kanary(['abort', '-f', backendOnly, '--kubeconfig', kubeconfig]);
    expect(abort.err).toBe('');
    expect(abort.code).toBe(EXIT.ok);
    const r = await running;
    expect(r.code).toBe(EXIT.rolledBack);
    expect(r.out).toMatch(/GROUP ABORT backend/);
    expect(r.out).toMatch(/frontend: rolled back/);
    expect([image(c, 'frontend'), image(c, 'backend')]).toEqual(['frontend:v2.0', 'backend:v1.2']);
    // Who asked: the back-end's owner; the front-end was rolled back by its group.
    const cause = (name: string) =>
      JSON.parse(
        (c.get('ConfigMap', 'shop', `kanary-${name}`)!.data as Record<string, string>)['state.json']!,
      ).abort?.cause;
    expect([cause('backend'), cause('frontend')]).toEqual(['user', 'group']);
  });

  it('a group file with one member, or a member without its rollout, is refused naming the field, writing nothing', async () => {
    const one = write(
      'one.yaml',
      stringify({ group: { name: 'shop', members: { frontend: member('frontend', 'f:2', []) } } }),
    );
    const r = await kanary(['plan', '-f', one]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/group\.members: needs at least two members/);
    const bad = write(
      'bad.yaml',
      stringify({
        group: {
          name: 'shop',
          members: { frontend: member('frontend', 'f:2', [{ setWeight: 101 }]), backend: {} },
        },
      }),
    );
    const b = await kanary(['plan', '-f', bad]);
    expect(b.code).toBe(EXIT.invalid);
    expect(b.err).toMatch(/group\.members\.(frontend\.rollout\.steps|backend)/);
  });
});
