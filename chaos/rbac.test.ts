// Least privilege, end to end: every strategy × router releases under the Role its rollout asks
// for (`rolesFor(rollout.permissions())`), with the emulator enforcing RBAC; one verb less, and the
// release stops saying which verb on which resource it was refused.
import { type ChaosScenario, type ChaosStrategy, ROUTERS_OF, runChaos } from '@kanary/testkit';
import { describe, expect, it } from 'vitest';
import { routers } from './routers.ts';

const quiet = (strategy: ChaosStrategy, router: ChaosScenario['router']): ChaosScenario => ({
  replicas: 2,
  weights: [20, 50],
  pauseMs: 10_000,
  headerRoute: strategy === 'weighted',
  neverReady: false,
  skewMs: 0,
  strategy,
  router,
  disturbances: [],
});

describe('each strategy × router under the least-privilege Role it generates', () => {
  for (const strategy of Object.keys(ROUTERS_OF) as ChaosStrategy[])
    for (const router of ROUTERS_OF[strategy])
      it(`${strategy} × ${router}: succeeds, and an abort rolls back, with no request refused`, async () => {
        const aborted: ChaosScenario = {
          ...quiet(strategy, router),
          disturbances: [{ at: 3_000, kind: 'control', control: 'abort' }],
        };
        for (const [scenario, phase] of [
          [quiet(strategy, router), 'succeeded'],
          [aborted, 'aborted'],
        ] as const) {
          const lines: string[] = [];
          const report = await runChaos({
            seed: 1,
            scenario,
            routers,
            rbac: true,
            log: (l) => lines.push(l),
          });
          expect(lines.filter((l) => /forbidden/.test(l))).toEqual([]);
          // Nothing refused quietly either (a watch cache that may not list falls back to reads).
          expect(report.requests.forbidden).toBe(0);
          expect(report.violations.map((v) => `${v.invariant}: ${v.detail}`)).toEqual([]);
          expect(report.phase).toBe(phase);
        }
      }, 120_000);
});

describe('with one verb less', () => {
  for (const [strategy, router, resource, verb] of [
    ['weighted', 'istio', 'virtualservices', 'update'],
    ['weighted', 'nginx', 'ingresses', 'create'],
    ['weighted', 'gateway', 'httproutes', 'update'],
    ['blueGreen', 'service', 'services', 'update'],
    ['replicaRatio', 'replicas', 'deployments', 'patch'],
    ['rolling', 'deployment', 'replicasets', 'list'],
  ] as const)
    it(`${strategy} × ${router} without ${verb} ${resource}: stops, naming the verb and the resource`, async () => {
      const lines: string[] = [];
      const report = await runChaos({
        seed: 1,
        // A LIST is needed only where the server does not stream lists (the watch cache's listing is
        // then a LIST): on a 1.34 server the release reads replicasets with `watch` alone.
        scenario: { ...quiet(strategy, router), ...(verb === 'list' ? { noWatchList: true } : {}) },
        routers,
        rbac: { without: { resource, verb } },
        log: (l) => lines.push(l),
      });
      expect(report.phase).not.toBe('succeeded');
      expect(lines.join('\n')).toMatch(
        new RegExp(
          `is forbidden: User "(driver-1|operator)" cannot ${verb} resource "${resource}" in API group "[a-z0-9.]*" in the namespace "default"`,
        ),
      );
    }, 120_000);
});

describe("deploy/agent.yaml's ClusterRole", () => {
  it('grants every permission a rollout of any strategy × router asks for (the agent may adopt any of them)', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseAllDocuments } = await import('yaml');
    const { createKubeClient, createKubernetesRollout } = await import('@kanary/core');
    const { chaosSpec, startCluster } = await import('@kanary/testkit');
    const docs = parseAllDocuments(
      readFileSync(new URL('../deploy/agent.yaml', import.meta.url), 'utf8'),
    ).map(
      (d) =>
        d.toJS() as {
          kind: string;
          rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
        },
    );
    const rules = docs.find((d) => d.kind === 'ClusterRole')?.rules ?? [];
    const grants = (group: string, resource: string, verb: string) =>
      rules.some(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    const cluster = await startCluster();
    try {
      const client = createKubeClient({ kubeConfig: cluster.kubeConfig });
      const missing: string[] = [];
      for (const strategy of Object.keys(ROUTERS_OF) as ChaosStrategy[])
        for (const router of ROUTERS_OF[strategy]) {
          const make = router in routers ? routers[router as keyof typeof routers] : undefined;
          const rollout = createKubernetesRollout({
            spec: chaosSpec(quiet(strategy, router)),
            client,
            ...(make ? { router: make(client) } : {}),
          });
          for (const p of rollout.permissions())
            for (const verb of p.verbs)
              if (!grants(p.apiGroup, p.resource, verb))
                missing.push(`${strategy}×${router}: ${verb} ${p.apiGroup}/${p.resource}`);
        }
      expect([...new Set(missing)]).toEqual([]);
    } finally {
      await cluster.close();
    }
  });
});
