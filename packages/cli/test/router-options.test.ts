import { parseKanaryFile } from '@kanary/cli';
import { createKubeClient, isKanaryError } from '@kanary/core';
import { createGatewayApiRouter } from '@kanary/gateway-api';
import { createIstioRouter } from '@kanary/istio';
import { createNginxRouter } from '@kanary/nginx';
import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

// No cluster behind it: a router checks its options when it is made, before any request.
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: 'none', server: 'http://127.0.0.1:9' }],
  users: [{ name: 'nobody' }],
  contexts: [{ name: 'none', cluster: 'none', user: 'nobody' }],
  currentContext: 'none',
});
const client = createKubeClient({ kubeConfig, watch: false });

const refused = (make: () => unknown) => {
  try {
    make();
  } catch (error) {
    if (isKanaryError(error, 'INVALID_SPEC')) return error;
    throw error;
  }
  throw new Error('accepted');
};

const fileWith = (router: unknown) =>
  JSON.stringify({
    rollout: {
      name: 'web',
      target: { name: 'web', service: 'web' },
      update: { image: 'web:2' },
      strategy: { type: 'weighted' },
      steps: [{ setWeight: 10 }],
    },
    router,
  });

describe("a router's options: one schema for the SDK and the kanary file", () => {
  it('each router refuses bad options where it is made, naming the field', () => {
    const istio = refused(() =>
      createIstioRouter({ client, virtualService: '', destinationRules: { name: 'x' } } as never),
    );
    expect(istio.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['virtualService', '']));
    expect(istio.message).toMatch(/istio router options are not valid/);
    expect(istio.message).toMatch(/destinationRules/);
    const nginx = refused(() => createNginxRouter({ client, stableIngress: 'web', weightTotal: 50 }));
    expect(nginx.issues.map((i) => i.path)).toEqual(['weightTotal']);
    const gateway = refused(() => createGatewayApiRouter({ client, httpRoute: 'web', statusTimeoutMs: -1 }));
    expect(gateway.issues.map((i) => i.path)).toEqual(['statusTimeoutMs']);
    // Good options make a router.
    expect(createIstioRouter({ client, virtualService: { name: 'web', namespace: 'mesh' } }).name).toBe(
      'istio',
    );
  });

  it('a kanary file takes every option the routers take (they once drifted apart), and refuses what they refuse', () => {
    const istio = parseKanaryFile(
      fileWith({
        istio: {
          virtualService: { name: 'web', namespace: 'mesh' },
          destinationRule: { name: 'web', namespace: 'mesh', stableSubset: 'v1' },
          apiVersion: 'networking.istio.io/v1beta1',
        },
      }),
      'istio.json',
    );
    expect(istio.file.router).toMatchObject({ istio: { virtualService: { namespace: 'mesh' } } });
    const gateway = parseKanaryFile(
      fileWith({ gatewayApi: { httpRoute: 'web', statusTimeoutMs: 30_000 } }),
      'gw.json',
    );
    expect(gateway.file.router).toMatchObject({ gatewayApi: { statusTimeoutMs: 30_000 } });
    const bad = refused(() =>
      parseKanaryFile(fileWith({ nginx: { stableIngress: 'web', weightTotal: 50 } }), 'nginx.json'),
    );
    expect(bad.issues.map((i) => i.path)).toEqual(['router.nginx.weightTotal']);
  });
});
