import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, main } from '@kanary/cli';
import { type Cluster, deployment, service, startCluster } from '@kanary/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';

/**
 * `kanary` against the emulator over HTTP on the wall clock, with the kubeconfig as a file, the
 * way users run it. Pauses are short or wait for `kanary promote`.
 */
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const dir = mkdtempSync(join(tmpdir(), 'kanary-cli-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

async function start(options: { rbac?: boolean } = {}): Promise<{ cluster: Cluster; kubeconfig: string }> {
  cluster = await startCluster({
    time: 'real',
    podReadyAfterMs: 50,
    namespaces: ['shop'],
    ...(options.rbac ? { rbac: {} } : {}),
  });
  cluster.apply(deployment('web', 'shop', 'web:1', 2), service('web', 'shop', { app: 'web' }), {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      hosts: ['web.example.com'],
      http: [{ name: 'primary', route: [{ destination: { host: 'web.shop.svc.cluster.local' } }] }],
    },
  });
  return { cluster, kubeconfig: write(`kubeconfig-${Date.now()}`, cluster.kubeConfig.exportConfig()) };
}

const file = (steps: unknown[], extra: Record<string, unknown> = {}) => ({
  rollout: {
    name: 'web',
    namespace: 'shop',
    target: { name: 'web', service: 'web' },
    update: { image: 'web:2' },
    strategy: { type: 'weighted' },
    steps,
    scaleDownDelay: '0s',
    abortScaleDownDelay: '0s',
    ...extra,
  },
  router: { istio: { virtualService: 'web', routes: ['primary'] } },
});

interface Run {
  code: number;
  out: string;
  err: string;
}
async function kanary(argv: string[], signal?: AbortSignal): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    env: {},
    ...(signal ? { signal } : {}),
  });
  return { code, out, err };
}

/** `kanary status` polled until its output says `text` (10 s at most); the last output either way. */
async function statusOnce(k: string[], text: string): Promise<Run> {
  let status = await kanary(['status', ...k]);
  for (let i = 0; i < 200 && !status.out.includes(text); i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = await kanary(['status', ...k]);
  }
  return status;
}

const writes = (c: Cluster) => c.requests.filter((r) => !['get', 'list', 'watch'].includes(r.verb));

describe('kanary plan', () => {
  it('validates a YAML file and prints every action without a cluster', async () => {
    const path = write(
      'plan.yaml',
      stringify(file([{ setWeight: 20 }, { pause: { duration: '1m' } }, { setWeight: 100 }])),
    );
    const r = await kanary(['plan', '-f', path]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/set weight 20%/);
    expect(r.out).toMatch(/pause 1m/);
    const json = await kanary(['plan', '-f', path, '-o', 'json']);
    expect(JSON.parse(json.out).steps).toHaveLength(3);
    expect(r.out).not.toMatch(/warning/);
  });

  it('plan prints the warnings of a legal but risky spec, and still exits 0', async () => {
    const path = write(
      'risky.yaml',
      stringify(file([{ setWeight: 50 }, { setWeight: 20 }, { setWeight: 100 }, { pause: {} }])),
    );
    const r = await kanary(['plan', '-f', path]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(
      /warning: steps\[2\]\.setWeight: raises the weight to 100% after steps\[1\] lowered it to 20%/,
    );
    expect(r.out).toMatch(/warning: steps\[3\]: comes after steps\[2\] sent every user to the canary/);
    const json = JSON.parse((await kanary(['plan', '-f', path, '-o', 'json'])).out);
    expect(json.warnings.map((w: { path: string }) => w.path)).toEqual(['steps[2].setWeight', 'steps[3]']);
  });

  it('article 002’s analysis by template name with args (Argo’s form) plans from YAML; an unknown name exits 2 naming the ones there are', async () => {
    const yaml = (templateName: string) =>
      stringify({
        prometheus: { address: 'http://prometheus.example:9090' },
        ...file(
          [
            { setWeight: 10 },
            { pause: { duration: '15m' } },
            {
              analysis: {
                templates: [{ templateName }],
                args: [{ name: 'service-name', value: 'frontend-service' }],
              },
            },
            { setWeight: 35 },
          ],
          {
            analysisTemplates: {
              'frontend-health-check': {
                metrics: [
                  {
                    name: 'success-rate',
                    interval: '1m',
                    successCondition: 'result >= 0.95',
                    provider: {
                      prometheus: {
                        query:
                          'sum(rate(http_requests_total{service="{{args.service-name}}",code!~"5.."}[1m])) / sum(rate(http_requests_total{service="{{args.service-name}}"}[1m]))',
                      },
                    },
                  },
                ],
              },
            },
          },
        ),
      });
    const ok = await kanary(['plan', '-f', write('templates.yaml', yaml('frontend-health-check'))]);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.out).toMatch(/analysis frontend-health-check/);
    const bad = await kanary(['plan', '-f', write('templates-bad.yaml', yaml('frontend-health'))]);
    expect(bad.code).toBe(EXIT.invalid);
    expect(bad.err).toMatch(/steps\[2\]\.analysis\.templateName/);
    expect(bad.err).toMatch(/frontend-health-check/);
  });

  it('accepts a bare rollout spec in JSON', async () => {
    const { rollout } = file([]);
    const blueGreen = { ...rollout, strategy: { type: 'blueGreen', activeService: 'web' }, steps: undefined };
    const r = await kanary(['plan', '-f', write('bare.json', JSON.stringify(blueGreen))]);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/switch/i);
  });

  it('in a union (the strategy), reports the branch the file meant, or the allowed discriminators', async () => {
    const { rollout } = file([]);
    const missing = { ...rollout, strategy: { type: 'blueGreen' }, steps: undefined };
    const r = await kanary(['plan', '-f', write('bg.json', JSON.stringify(missing))]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/strategy: "activeService" is required \(fix: add strategy\.activeService\)/);
    expect(r.err).not.toMatch(/must be equal to constant/);
    const unknown = { ...rollout, strategy: { type: 'canary' } };
    const u = await kanary(['plan', '-f', write('unknown.json', JSON.stringify(unknown))]);
    expect(u.err).toMatch(
      /strategy\.type: is not one of the allowed values \(fix: use one of "weighted", "headerMatch", "rolling", "blueGreen", "replicaRatio"\)/,
    );
  });

  it('names each bad field with its fix (JSON Schema first), exits 2 and writes nothing', async () => {
    const { cluster: c, kubeconfig } = await start();
    const bad = file([{ setWeight: 150 }]);
    (bad.rollout as Record<string, unknown>).stratgey = 'typo';
    const path = write('bad.yaml', stringify(bad));
    for (const cmd of ['plan', 'run']) {
      const r = await kanary([cmd, '-f', path, '--kubeconfig', kubeconfig]);
      expect(r.code).toBe(EXIT.invalid);
      expect(r.err).toMatch(/rollout\.steps\[0\]\.setWeight: must be <= 100/);
      expect(r.err).toMatch(/give a number <= 100/);
      expect(r.err).toMatch(/unknown field "stratgey"/);
      expect(r.err).toMatch(/Nothing was written to the cluster/);
    }
    expect(writes(c)).toEqual([]);
  });

  it('did you mean: a misspelt field of the file, of the spec and of a metric gets the field it was probably meant to be', async () => {
    const bad = file([{ setWieght: 10 }, { pause: { duraton: '1m' } }], {
      analysis: {
        metrics: [
          {
            name: 'e',
            interval: '1m',
            provider: { istio: { metric: 'errors' } },
            sucessCondition: 'result < 1',
          },
        ],
      },
    }) as Record<string, unknown>;
    bad.routr = bad.router;
    delete bad.router;
    bad.prometheus = { address: 'http://127.0.0.1:9' };
    const r = await kanary(['plan', '-f', write('typos.yaml', stringify(bad))]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/unknown field "routr" \(fix: did you mean "router"\?\)/);
    expect(r.err).toMatch(
      /rollout\.steps\[0\]: unknown field "setWieght" \(fix: did you mean "setWeight"\?\)/,
    );
    // Not also the field of whichever step shape the misspelt one was checked against:
    expect(r.err).not.toMatch(/steps\[0\]: "pause" is required/);
    expect(r.err).toMatch(
      /rollout\.steps\[1\]\.pause: unknown field "duraton" \(fix: did you mean "duration"\?\)/,
    );
    const fixed = {
      ...bad,
      router: bad.routr,
      rollout: { ...(bad.rollout as object), steps: [{ setWeight: 10 }] },
    };
    delete (fixed as Record<string, unknown>).routr;
    const metric = await kanary(['plan', '-f', write('metric-typo.yaml', stringify(fixed))]);
    expect(metric.code).toBe(EXIT.invalid);
    expect(metric.err).toMatch(
      /^ {2}- rollout\.analysis\.metrics\[0\]: unknown field "sucessCondition" \(fix: did you mean "successCondition"\?\)$/m,
    );
  });

  it('reports problems of shape and of meaning together, each field once: nothing is uncovered only after a fix', async () => {
    const bad = file([{ setWeight: 'ten' }, { setWeight: 20 }]);
    const rollout = bad.rollout as Record<string, unknown>;
    rollout.stratgey = 'typo';
    rollout.target = { name: 'web' };
    const r = await kanary(['plan', '-f', write('both.yaml', stringify(bad))]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/unknown field "stratgey"/);
    expect(r.err).toMatch(/rollout\.steps\[0\]\.setWeight: must be number/);
    // The cross-field rule that JSON Schema cannot express, beside them:
    expect(r.err).toMatch(/rollout\.target\.service: is required for traffic routing/);
    expect(r.err.match(/steps\[0\]\.setWeight/g)?.length).toBe(1);
  });

  it('preflight severities from the file: a container without a readinessProbe refused as an error, or not mentioned when off (and the stable is the ReplicaSet of the current template, not an older one that still has the probe)', async () => {
    const { cluster: c, kubeconfig } = await start();
    // As `kubectl create deployment` makes it: no probe, no preStop, no requests.
    const web = c.get('Deployment', 'shop', 'web')!;
    const container = (web.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } })
      .template.spec.containers[0]!;
    delete container.readinessProbe;
    c.apply(web);

    const before = writes(c).length;
    const strict = write(
      'strict.yaml',
      stringify({ ...file([{ setWeight: 50 }]), preflight: { readinessProbe: 'error' } }),
    );
    const refused = await kanary(['run', '-f', strict, '--kubeconfig', kubeconfig]);
    expect(refused.code).toBe(EXIT.invalid);
    expect(
      refused.err.match(
        /container "app" has no readinessProbe[^\n]*\(fix: add a readinessProbe to the container\)/g,
      ),
    ).toHaveLength(1);
    // Nothing of the reader's is touched (the run held its Lease while it looked, and let it go).
    expect(
      writes(c)
        .slice(before)
        .filter((w) => w.verb !== 'discovery' && w.resource !== 'leases'),
    ).toEqual([]);
    const quiet = write(
      'quiet.yaml',
      stringify({ ...file([{ setWeight: 50 }]), preflight: { readinessProbe: 'off' } }),
    );
    const ran = await kanary(['run', '-f', quiet, '--kubeconfig', kubeconfig]);
    expect(ran.err).toBe('');
    expect(ran.code).toBe(EXIT.ok);
    expect(`${ran.out}${ran.err}`).not.toMatch(/readinessProbe/);
    // The run's process heartbeat went with its last Lease: nothing is left behind.
    expect(c.list('Lease', 'shop').map((l) => l.metadata.name)).toEqual(['kanary-web']);
    const typo = write(
      'typo.yaml',
      stringify({ ...file([{ setWeight: 50 }]), preflight: { readinessProbe: 'fatal' } }),
    );
    const bad = await kanary(['plan', '-f', typo]);
    expect(bad.code).toBe(EXIT.invalid);
    expect(bad.err).toMatch(/preflight\.readinessProbe/);
  });

  it('reports YAML syntax errors with their line, and unknown routers', async () => {
    const syntax = await kanary(['plan', '-f', write('syntax.yaml', 'rollout:\n  name: web\n   bad: [\n')]);
    expect(syntax.code).toBe(EXIT.invalid);
    expect(syntax.err).toMatch(/line \d+, column \d+/);
    const router = await kanary([
      'plan',
      '-f',
      write('router.yaml', stringify({ ...file([{ setWeight: 10 }]), router: { linkerd: {} } })),
    ]);
    expect(router.code).toBe(EXIT.invalid);
    expect(router.err).toMatch(/router: must have exactly one of istio, nginx or gatewayApi/);
  });

  it('refuses a weighted rollout with no router, naming the fix', async () => {
    const { router: _r, ...noRouter } = file([{ setWeight: 10 }]);
    const r = await kanary(['plan', '-f', write('norouter.yaml', stringify(noRouter))]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/router: no router was given/);
  });

  it('rejects unknown commands and options with usage help', async () => {
    expect((await kanary(['deploy'])).code).toBe(EXIT.invalid);
    expect((await kanary(['run', '--bogus'])).err).toMatch(/Unknown option '--bogus'/);
    expect((await kanary(['run'])).err).toMatch(/run needs -f FILE/);
    const help = await kanary(['--help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.out).toMatch(/Exit codes: 0 done/);
  });

  it('the agent refuses a Prometheus token without the server it is for', async () => {
    const token = write('token', 'secret');
    const r = await kanary(['agent', '--prometheus-token', token]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(/--prometheus-token needs --prometheus URL: the token is sent to that server only/);
  });
});

describe('kanary rbac', () => {
  it('prints the Role a release needs, and `kanary run` succeeds under exactly that Role (RBAC enforced)', async () => {
    const path = write('rbac.yaml', stringify(file([{ setWeight: 30 }, { pause: { duration: '1s' } }])));
    const printed = await kanary(['rbac', '-f', path]);
    expect(printed.code).toBe(EXIT.ok);
    expect(printed.out).toMatch(
      /# weights and header routes in VirtualService web\n {2}- apiGroups: \["networking.istio.io"\]/,
    );
    const docs = parseAllDocuments(printed.out).map((d) => d.toJS());
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      'Role shop/kanary-web',
    ]);
    const json = JSON.parse((await kanary(['rbac', '-f', path, '-o', 'json'])).out);
    expect(json[0].rules).toEqual(docs[0].rules);

    // Applied as it is printed: the emulator validates it against the Role schema.
    const { cluster: c } = await start({ rbac: true });
    c.apply(docs[0], {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'deployer', namespace: 'shop' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kanary-web' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'deployer' }],
    });
    const deployer = write(`deployer-${Date.now()}`, c.kubeConfigFor('deployer').exportConfig());
    const r = await kanary(['run', '-f', path, '--kubeconfig', deployer]);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(c.requests.filter((q) => q.code === 403)).toEqual([]);
    // Someone bound to nothing is refused, and told which verb on which resource.
    const nobody = write(`nobody-${Date.now()}`, c.kubeConfigFor('nobody').exportConfig());
    const refused = await kanary(['status', 'web', '-n', 'shop', '--kubeconfig', nobody]);
    expect(refused.err).toMatch(
      /User "nobody" cannot get resource "configmaps" in API group "" in the namespace "shop"/,
    );
  });
});

describe('kanary run, status and controls against a cluster', () => {
  it('drives to a human pause; status shows it; promote from another process finishes it (exit 0)', async () => {
    const { cluster: c, kubeconfig } = await start();
    const path = write(
      'promote.yaml',
      stringify(file([{ setWeight: 30 }, { pause: {} }, { setWeight: 100 }])),
    );
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    expect((await kanary(['status', ...k])).code).toBe(EXIT.notFound);
    expect((await kanary(['promote', ...k])).code).toBe(EXIT.notFound);

    const running = kanary(['run', ...k]);
    let status: Run | undefined;
    for (let i = 0; i < 200; i++) {
      status = await kanary(['status', ...k]);
      if (status.out.includes('paused at step 2/3')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status?.out).toMatch(/phase\s+paused at step 2\/3 \(pause until promoted\)/);
    expect(status?.out).toMatch(/weight\s+canary 30%/);
    const byName = await kanary(['status', 'web', '-n', 'shop', '--kubeconfig', kubeconfig]);
    expect(byName.out).toMatch(/shop\/web\n\s+phase\s+paused at step 2/);
    const json = await kanary(['status', 'web', '-n', 'shop', '--kubeconfig', kubeconfig, '-o', 'json']);
    expect(JSON.parse(json.out).weights.canary).toBe(30);

    const promoted = await kanary(['promote', ...k]);
    expect(promoted.code).toBe(EXIT.ok);
    expect(promoted.out).toMatch(
      /promote recorded in shop\/web's state \(progressing\); kanary-\d+-\w+ holds the lease/,
    );
    const r = await running;
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/step 1\/3: set weight 30%/);
    expect(r.out).toMatch(/waiting for a human: `kanary promote`/);
    expect(r.out).toMatch(/promoted: the new version is stable/);
    const image = (
      c.get('Deployment', 'shop', 'web')!.spec as {
        template: { spec: { containers: Array<{ image: string }> } };
      }
    ).template.spec.containers[0]?.image;
    expect(image).toBe('web:2');
    // A finished rollout refuses further controls: exit 4 with the reason.
    const again = await kanary(['abort', ...k]);
    expect(again.code).toBe(EXIT.refused);
    // In the CLI's words: the command, not the SDK method.
    expect(again.err).toMatch(/`kanary abort` refused/);
    expect(again.err).not.toMatch(/\w\(\)/);
  }, 30_000);

  it('list shows every saved rollout; status --timeout waits for the outcome and exits by it (CI)', async () => {
    const { kubeconfig } = await start();
    const path = write('listed.yaml', stringify(file([{ setWeight: 20 }, { pause: {} }])));
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    const running = kanary(['run', ...k]);
    await statusOnce(k, 'paused at step 2/2');

    const listed = await kanary(['list', '-n', 'shop', '--kubeconfig', kubeconfig]);
    expect(listed.code).toBe(EXIT.ok);
    const [head, row, ...more] = listed.out.trimEnd().split('\n');
    expect(head?.split(/\s+/)).toEqual([
      'NAMESPACE',
      'NAME',
      'STRATEGY',
      'STEP',
      'PHASE',
      'WEIGHT',
      'UPDATED',
    ]);
    expect(row?.split(/\s+/).slice(0, 6)).toEqual(['shop', 'web', 'weighted', '2/2', 'paused', '20%']);
    expect(more).toEqual([]);
    const all = await kanary(['list', '-A', '-o', 'json', '--kubeconfig', kubeconfig]);
    expect(JSON.parse(all.out)).toEqual([
      expect.objectContaining({
        namespace: 'shop',
        name: 'web',
        phase: 'paused',
        step: '2/2',
        weight: '20%',
      }),
    ]);
    expect((await kanary(['list', '-n', 'elsewhere', '--kubeconfig', kubeconfig])).out).toBe(
      'no rollouts in namespace elsewhere (-A: all namespaces)\n',
    );

    // Paused for a person: still going when the timeout is up, exit 6.
    const waiting = await kanary(['status', ...k, '--timeout', '1s']);
    expect(waiting.code).toBe(EXIT.timeout);
    expect(waiting.err).toBe('kanary: still paused after 1s (--timeout)\n');
    expect(waiting.out).toMatch(/phase\s+paused at step 2\/2/);
    // Promoted while a pipeline waits on it by name: exit 0, the phase changes said on the way.
    const pipeline = kanary(['status', 'web', '-n', 'shop', '--kubeconfig', kubeconfig, '--timeout', '30s']);
    expect((await kanary(['promote', ...k])).code).toBe(EXIT.ok);
    const done = await pipeline;
    expect(done.code).toBe(EXIT.ok);
    expect(done.out).toMatch(/phase\s+succeeded/);
    expect(done.err).toMatch(/shop\/web is (progressing|succeeded)/);
    expect((await running).code).toBe(EXIT.ok);
    expect((await kanary(['status', ...k, '--timeout', 'soon'])).err).toMatch(
      /--timeout must be a duration such as 10m or 90s, not "soon"/,
    );
  }, 60_000);

  it('status shows who is routed by header or cookie, with the match, not only the weight', async () => {
    const { kubeconfig } = await start();
    const path = write(
      'cookie.yaml',
      stringify(
        file([
          { setWeight: 0 },
          {
            setHeaderRoute: {
              name: 'company',
              match: [
                { cookie: { name: 'email', regex: '[^;]*@example\\.com' } },
                { headers: [{ name: 'x-canary', exact: 'always' }] },
              ],
              weight: 50,
            },
          },
          { pause: {} },
        ]),
      ),
    );
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    const running = kanary(['run', ...k]);
    const status = await statusOnce(k, 'paused at step 3/3');
    expect(status.out).toMatch(/weight\s+canary 0%/);
    expect(status.out).toMatch(
      /route\s+company: cookie email matches \/\[\^;\]\*@example\\\.com\/ or header x-canary = "always" → 50% to the canary/,
    );
    expect((await kanary(['abort', ...k])).code).toBe(EXIT.ok);
    expect((await running).code).toBe(EXIT.rolledBack);
  }, 60_000);

  it('a namespace that does not exist is said as such, not as a Lease error, and nothing is written', async () => {
    const { cluster: c, kubeconfig } = await start();
    const before = writes(c).length;
    const path = write(
      'elsewhere.yaml',
      stringify({
        ...file([{ setWeight: 10 }]),
        rollout: { ...file([]).rollout, steps: [{ setWeight: 10 }], namespace: 'shopp' },
      }),
    );
    const r = await kanary(['run', '-f', path, '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toBe(
      `kanary: namespace "shopp" does not exist in context "${c.kubeConfig.getCurrentContext()}": correct the rollout's namespace in the file, or create it (kubectl create namespace shopp)\n`,
    );
    expect(
      writes(c)
        .slice(before)
        // The refused create of the Lease (404) is the one attempt; nothing was stored.
        .filter((w) => w.verb !== 'discovery' && w.code < 400),
    ).toEqual([]);
  });

  it('status --timeout exits 1 when the release is rolled back', async () => {
    const { kubeconfig } = await start();
    const path = write('rolled.yaml', stringify(file([{ setWeight: 20 }, { pause: {} }])));
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    const running = kanary(['run', ...k]);
    await statusOnce(k, 'paused at step 2/2');
    const pipeline = kanary(['status', ...k, '--timeout', '30s']);
    expect((await kanary(['abort', ...k])).code).toBe(EXIT.ok);
    const done = await pipeline;
    expect(done.code).toBe(EXIT.rolledBack);
    expect(done.out).toMatch(/phase\s+aborted/);
    expect((await running).code).toBe(EXIT.rolledBack);
  }, 60_000);

  it('a weight by user from YAML (hashOn): status says whose key decides, each user stays on one side, and an abort takes them all back', async () => {
    const { cluster: c, kubeconfig } = await start();
    const path = write(
      'by-user.yaml',
      stringify(
        file([{ setWeight: 30 }, { pause: {} }], {
          strategy: { type: 'weighted', hashOn: { header: 'x-user-id', keys: 'decimal' } },
        }),
      ),
    );
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    const running = kanary(['run', ...k]);
    const status = await statusOnce(k, 'paused at step 2/2');
    expect(status.out).toMatch(/weight\s+canary 30% of users \(by header x-user-id\)/);
    const entry = { kind: 'istio' as const, host: 'web.example.com', namespace: 'shop' };
    const users = Array.from({ length: 100 }, (_, i) => ({ headers: { 'x-user-id': `${i + 100}` } }));
    const served = c.traffic.servedPerUser(entry, users);
    expect(served.flatMap((w, i) => (w === 'web-canary' ? [i] : []))).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
    expect((await kanary(['abort', ...k])).code).toBe(EXIT.ok);
    expect((await running).code).toBe(EXIT.rolledBack);
    expect(new Set(c.traffic.servedPerUser(entry, users))).toEqual(new Set(['web']));
  }, 30_000);

  it('a rolling update speaks in pods, not in a canary weight nobody wrote; a weighted promotion does not end on "canary 0%"', async () => {
    const { kubeconfig } = await start();
    const rolling = write(
      'rolling.yaml',
      stringify({
        rollout: {
          name: 'web',
          namespace: 'shop',
          target: { name: 'web', service: 'web' },
          update: { image: 'web:2' },
          strategy: { type: 'rolling' },
          steps: [{ setWeight: 50 }, { pause: {} }],
        },
      }),
    );
    const k = ['-f', rolling, '--kubeconfig', kubeconfig];
    const running = kanary(['run', ...k]);
    const status = await statusOnce(k, 'paused at step 2/2');
    expect(status.out).toMatch(/pods\s+50% on the new version/);
    expect(status.out).not.toMatch(/weight/);
    expect((await kanary(['promote', ...k])).code).toBe(EXIT.ok);
    const r = await running;
    expect(r.code).toBe(EXIT.ok);
    // Progress in pods: which message a look catches depends on timing (under load the first look
    // may already be the last burst).
    expect(r.out).toMatch(/pods (\d\/\d pods updated|rolling \d+ more pod\(s\))/);
    expect(r.out).not.toMatch(/weight canary/);
    expect((await kanary(['status', ...k])).out).toMatch(/pods\s+all run the new version/);

    const weighted = write(
      'weighted-end.yaml',
      stringify(file([{ setWeight: 30 }, { pause: { duration: '1ms' } }])),
    );
    const w = await kanary(['run', '-f', weighted, '--kubeconfig', kubeconfig]);
    expect(w.code).toBe(EXIT.ok);
    expect(w.out).toMatch(/traffic all on the stable Deployment, now running the new version/);
    expect(w.out).not.toMatch(/weight canary 0%[^\n]*\n[^\n]*promoted/);
  });

  it('a threshold analysis that fails says what it measured', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { errorRatio: 0.2375 } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const { kubeconfig } = await start();
      const path = write(
        'threshold.yaml',
        stringify({
          ...file([
            { setWeight: 30 },
            {
              analysis: {
                metrics: [
                  {
                    name: 'error-ratio',
                    count: 1,
                    successCondition: 'result < 0.05',
                    provider: { web: { server: 'ratios', url: 'ratio', jsonPath: '$.data.errorRatio' } },
                  },
                ],
              },
            },
          ]),
          // The file binds the URL a metric may call (with credentials, if it had any).
          web: { servers: { ratios: { url: `http://127.0.0.1:${port}/` } } },
        }),
      );
      const r = await kanary(['run', '-f', path, '--kubeconfig', kubeconfig]);
      expect(r.code).toBe(EXIT.rolledBack);
      expect(r.out).toMatch(/error-ratio failed[^\n]*0\.2375/);
      const status = await kanary(['status', '-f', path, '--kubeconfig', kubeconfig]);
      expect(status.out).toMatch(/analysed\s+steps\[1\][^\n]* failed/);
      expect(status.out).not.toMatch(/nodata|successful\)/);
    } finally {
      server.close();
    }
  });

  it('undo after a release succeeded releases the previous revision again (the whole template, as kubectl rollout undo) and exits 0', async () => {
    const { cluster: c, kubeconfig } = await start();
    const template = () =>
      structuredClone(
        (c.get('Deployment', 'shop', 'web')!.spec as { template: { spec: Record<string, unknown> } })
          .template,
      );
    const before = template();
    // A release that changes the image and adds an env var: undo takes both back.
    const path = write(
      'undo.yaml',
      stringify(
        file([{ setWeight: 50 }, { pause: { duration: '1ms' } }], {
          update: {
            image: 'web:2',
            template: { spec: { containers: [{ name: 'app', env: [{ name: 'FEATURE', value: 'on' }] }] } },
          },
        }),
      ),
    );
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    expect((await kanary(['undo', ...k])).code).toBe(EXIT.refused);
    expect((await kanary(['run', ...k])).code).toBe(EXIT.ok);
    expect(JSON.stringify(template())).toMatch(/FEATURE/);
    const u = await kanary(['undo', ...k, '--full']);
    expect(u.err).toBe('');
    expect(u.code).toBe(EXIT.ok);
    expect(u.out).toMatch(/promoted/);
    const after = template();
    expect(after.spec).toEqual(before.spec);
  });

  it('abort from another process rolls back and the run exits 1; retry starts it again', async () => {
    const { cluster: c, kubeconfig } = await start();
    const path = write('abort.yaml', stringify(file([{ setWeight: 40 }, { pause: {} }])));
    const k = ['-f', path, '--kubeconfig', kubeconfig];
    const running = kanary(['run', ...k]);
    for (let i = 0; i < 200; i++) {
      if ((await kanary(['status', ...k])).out.includes('paused')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const aborted = await kanary(['abort', ...k, '--reason', 'checkout errors in the canary']);
    expect(aborted.code).toBe(EXIT.ok);
    const r = await running;
    expect(r.code).toBe(EXIT.rolledBack);
    expect(r.out).toMatch(/rolled back \(user\): checkout errors in the canary/);
    const vs = c.get('VirtualService', 'shop', 'web', 'networking.istio.io') as {
      spec: { http: Array<{ route: Array<{ weight?: number }> }> };
    };
    expect(vs.spec.http[0]?.route.length).toBe(1);
    // Nobody drives it now: retry carries itself out here, driving like `kanary run`.
    const retrying = kanary(['retry', ...k]);
    for (let i = 0; i < 200; i++) {
      if ((await kanary(['status', ...k])).out.match(/phase\s+paused/)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await kanary(['status', ...k])).out).toMatch(/phase\s+paused at step 2\/2/);
    expect((await kanary(['abort', ...k])).code).toBe(EXIT.ok);
    const retried = await retrying;
    expect(retried.err).toMatch(/no live driver holds shop\/web; carrying the retry out here/);
    expect(retried.code).toBe(EXIT.rolledBack);
  }, 30_000);

  it('the installed bin: exit codes from a real process, and Ctrl-C stops driving with the state saved', async () => {
    const { kubeconfig } = await start();
    const path = write('bin.yaml', stringify(file([{ setWeight: 10 }, { pause: {} }])));
    const bin = join(import.meta.dirname, '../dist/bin.js');
    const proc = spawn(process.execPath, [bin, 'run', '-f', path, '--kubeconfig', kubeconfig], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('waiting for a human')) proc.kill('SIGINT');
    });
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
    expect(code).toBe(EXIT.interrupted);
    expect(err).toMatch(/stopped driving and released the lease\. The state is saved/);
    const status = await kanary(['status', '-f', path, '--kubeconfig', kubeconfig]);
    expect(status.out).toMatch(/paused at step 2\/2/);
    const invalid = spawn(process.execPath, [bin, 'plan', '-f', join(dir, 'missing.yaml')]);
    expect(await new Promise((resolve) => invalid.on('exit', resolve))).toBe(EXIT.notFound);
  }, 30_000);

  describe('abort and retry with nobody, a dead or a live driver (the real bin)', () => {
    const bin = join(import.meta.dirname, '../dist/bin.js');
    const lease = ['--lease-duration', '2s'];
    const drive = (path: string, kubeconfig: string) => {
      const proc = spawn(process.execPath, [bin, 'run', '-f', path, '--kubeconfig', kubeconfig, ...lease], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stdout.on('data', (d) => (out += d));
      const paused = new Promise<void>((resolve) =>
        proc.stdout.on('data', () => out.includes('waiting for a human') && resolve()),
      );
      const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
      return { proc, paused, exited };
    };
    const abortBin = (path: string, kubeconfig: string) => {
      const proc = spawn(process.execPath, [bin, 'abort', '-f', path, '--kubeconfig', kubeconfig, ...lease], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (err += d));
      return new Promise<Run>((resolve) =>
        proc.on('exit', (code) => resolve({ code: code ?? -1, out, err })),
      );
    };
    const routes = (c: Cluster) =>
      (
        c.get('VirtualService', 'shop', 'web', 'networking.istio.io') as {
          spec: { http: Array<{ route: Array<{ destination: { host: string }; weight?: number }> }> };
        }
      ).spec.http[0]?.route ?? [];

    for (const how of ['SIGKILL', 'SIGINT'] as const) {
      it(`abort after the driver was stopped with ${how} puts traffic back on stable and exits 0`, async () => {
        const { cluster: c, kubeconfig } = await start();
        const path = write(`dead-${how}.yaml`, stringify(file([{ setWeight: 30 }, { pause: {} }])));
        const driver = drive(path, kubeconfig);
        await driver.paused;
        expect(routes(c).length).toBe(2);
        driver.proc.kill(how);
        await driver.exited;
        const started = Date.now();
        const aborted = await abortBin(path, kubeconfig);
        expect(aborted.code).toBe(EXIT.ok);
        expect(aborted.err).toMatch(/no live driver holds shop\/web; carrying the abort out here/);
        expect(aborted.out).toMatch(/shop\/web: traffic is back on stable/);
        expect(routes(c).length).toBe(1);
        // A killed driver's lease must be seen silent for its whole duration; a stopped one released it.
        if (how === 'SIGKILL') expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
        const status = await kanary(['status', '-f', path, '--kubeconfig', kubeconfig]);
        expect(status.out).toMatch(/phase\s+aborted/);
      }, 30_000);
    }

    it('abort after the driver died mid-abort (in the scale-down delay) finishes the section and exits 0', async () => {
      const { cluster: c, kubeconfig } = await start();
      const path = write(
        'mid-abort.yaml',
        stringify(file([{ setWeight: 30 }, { pause: {} }], { abortScaleDownDelay: '12s' })),
      );
      const driver = drive(path, kubeconfig);
      await driver.paused;
      // The live driver takes the first abort: traffic back on stable, then it waits out the delay...
      const first = await abortBin(path, kubeconfig);
      expect(first.code).toBe(EXIT.ok);
      expect(routes(c).length).toBe(1);
      // ...and dies there. The canary is still up; a second abort sees the section through.
      driver.proc.kill('SIGKILL');
      await driver.exited;
      expect(c.get('Deployment', 'shop', 'web-canary')).toBeDefined();
      const second = await abortBin(path, kubeconfig);
      expect(second.code).toBe(EXIT.ok);
      expect(second.err).toMatch(/carrying the abort out here/);
      expect(c.get('Deployment', 'shop', 'web-canary')).toBeUndefined();
      expect((await kanary(['status', '-f', path, '--kubeconfig', kubeconfig])).out).toMatch(
        /phase\s+aborted/,
      );
    }, 30_000);

    it('retry of a failed rollout with nobody driving carries it out here', async () => {
      const { cluster: c, kubeconfig } = await start();
      // The new pods take 4s to get ready: longer than the progress deadline.
      c.setPodBehavior({ image: 'web:2', behavior: { readyAfterMs: 4_000 } });
      const path = write(
        'failed.yaml',
        stringify(
          file([{ setWeight: 30 }, { pause: {} }], { progressDeadline: '2s', progressDeadlineAbort: false }),
        ),
      );
      const failed = await kanary(['run', '-f', path, '--kubeconfig', kubeconfig, ...lease]);
      expect(failed.code).toBe(EXIT.rolledBack);
      expect((await kanary(['status', '-f', path, '--kubeconfig', kubeconfig])).out).toMatch(
        /phase\s+failed/,
      );
      // Pods started from now on are ready as quickly as the rest (the slow ones get there by themselves).
      c.setPodBehavior({ image: 'web:2', behavior: { readyAfterMs: 50 } });
      const proc = spawn(process.execPath, [bin, 'retry', '-f', path, '--kubeconfig', kubeconfig, ...lease], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (err += d));
      const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
      for (let i = 0; i < 200 && !out.includes('waiting for a human'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(err).toMatch(/no live driver holds shop\/web; carrying the retry out here/);
      expect(routes(c).length).toBe(2);
      expect((await kanary(['promote', '-f', path, '--kubeconfig', kubeconfig])).code).toBe(EXIT.ok);
      expect(await exited).toBe(EXIT.ok);
      expect(out).toMatch(/promoted/);
    }, 30_000);

    it('abort with a live driver hands it over and exits 0 once the driver has put traffic on stable', async () => {
      const { cluster: c, kubeconfig } = await start();
      const path = write('live.yaml', stringify(file([{ setWeight: 30 }, { pause: {} }])));
      const driver = drive(path, kubeconfig);
      await driver.paused;
      const aborted = await abortBin(path, kubeconfig);
      expect(aborted.code).toBe(EXIT.ok);
      expect(aborted.err).not.toMatch(/carrying the abort out here/);
      expect(routes(c).length).toBe(1);
      expect(await driver.exited).toBe(EXIT.rolledBack);
    }, 30_000);
  });
});

describe('errors in the CLI’s own terms', () => {
  it('a weighted file without a router: the fix names the file key, not an SDK option', async () => {
    const noRouter = file([{ setWeight: 10 }]) as Record<string, unknown>;
    delete noRouter.router;
    const r = await kanary(['plan', '-f', write('no-router.yaml', stringify(noRouter))]);
    expect(r.code).toBe(EXIT.invalid);
    expect(r.err).toMatch(
      /router: no router was given \(fix: add a router to the file: router: \{ istio: \{ virtualService: NAME \} \}/,
    );
    expect(r.err).not.toMatch(/create[A-Z]\w*Router|\(\.\.\.\)/);
    expect(r.err.match(/no router was given/g)).toHaveLength(1);
  });

  it('kubeconfig problems in one sentence with the fix, exit 2, before any request', async () => {
    const path = write('k.yaml', stringify(file([{ setWeight: 10 }])));
    const missing = await kanary(['status', '-f', path, '--kubeconfig', join(dir, 'nope')]);
    expect(missing).toMatchObject({ code: EXIT.invalid, out: '' });
    expect(missing.err).toBe(
      `kanary: no kubeconfig at ${join(dir, 'nope')} (--kubeconfig): give the path of an existing file\n`,
    );

    const fromEnv = await run(['status', '-f', path], { KUBECONFIG: join(dir, 'gone') });
    expect(fromEnv.code).toBe(EXIT.invalid);
    expect(fromEnv.err).toMatch(
      /^kanary: KUBECONFIG names .*gone, and no such file exists: point KUBECONFIG or --kubeconfig/,
    );

    const kubeconfig = write('one-context.kubeconfig', unreachableKubeconfig);
    const context = await kanary(['status', '-f', path, '--kubeconfig', kubeconfig, '--context', 'prod']);
    expect(context.code).toBe(EXIT.invalid);
    expect(context.err).toBe('kanary: no context "prod" in the kubeconfig; it has "lab" (--context)\n');
  });

  it('no kubeconfig anywhere (the real bin, an empty HOME): says so instead of an HTTP error', async () => {
    const home = mkdtempSync(join(tmpdir(), 'kanary-home-'));
    const path = write('k2.yaml', stringify(file([{ setWeight: 10 }])));
    const { KUBECONFIG: _, KUBERNETES_SERVICE_HOST: __, ...env } = process.env;
    const proc = spawn(
      process.execPath,
      [join(import.meta.dirname, '../dist/bin.js'), 'status', '-f', path],
      {
        env: { ...env, HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => proc.on('exit', resolve));
    expect(code).toBe(EXIT.invalid);
    expect(err).toMatch(
      /^kanary: no kubeconfig: KUBECONFIG is not set, .*\.kube\/config does not exist, and this is not a pod in a cluster; give --kubeconfig FILE/,
    );
    expect(err).not.toMatch(/HTTP protocol/);
  });

  it('an API server that does not answer: named, with the context, exit 3', async () => {
    // A port nothing listens on (taken, then let go).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const kubeconfig = write('unreachable.kubeconfig', unreachableKubeconfig.replace(':1"', `:${port}"`));
    const r = await kanary(['status', 'web', '-n', 'shop', '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(EXIT.cluster);
    expect(r.err).toBe(
      `kanary: cannot reach the Kubernetes API server at https://127.0.0.1:${port} (connection refused); check that the cluster is up and that context "lab" is the one you meant (--context, --kubeconfig)\n`,
    );
  });
});

/** A kubeconfig whose one context points at a port nothing listens on. */
const unreachableKubeconfig = `apiVersion: v1
kind: Config
clusters: [{ name: lab, cluster: { server: "https://127.0.0.1:1", insecure-skip-tls-verify: true } }]
contexts: [{ name: lab, context: { cluster: lab, user: lab } }]
current-context: lab
users: [{ name: lab, user: { token: t } }]
`;

async function run(argv: string[], env: Record<string, string>): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env });
  return { code, out, err };
}
