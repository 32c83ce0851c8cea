import {
  ANALYSIS_METRIC_FIELDS,
  type AnalysisMetric,
  type AnalysisSpec,
  type Clock,
  closest,
  type GateInput,
  type GateResult,
  KanaryError,
  type KanaryIssue,
  type Measurement,
  type MetricGate,
  partWiring,
  systemClock,
  toKanaryIssues,
} from '@kanary/core/adapter';
import { builtinOf } from '../builtins/queries.ts';
import { compileCondition, ExpressionError } from '../conditions/expression.ts';
import { judgeFor, type Look } from '../judges/judge.ts';
import {
  normaliseBase,
  type PrometheusServer,
  type PrometheusServers,
  prometheusServers,
  resolvePrometheus,
  resolveWeb,
  type WebOptions,
} from '../providers/servers.ts';
import { createSources, type MetricFunction } from '../providers/sources.ts';
import { placeholders, promQLTemplateProblem, type TemplateVars } from '../providers/template.ts';
import { addLook, assess, emptyTally, type MetricPhase, type Tally, worst } from './counting.ts';
import { type MetricSource, MetricSourceSchema } from './metric-spec.ts';

const METRIC_FIELDS = [...ANALYSIS_METRIC_FIELDS, ...Object.keys(MetricSourceSchema.shape)];

/** A metric's fields that neither core's counting nor this gate reads: a typo would pass unread. */
function unknownFields(metric: object, at: string): KanaryIssue[] {
  return Object.keys(metric)
    .filter((k) => !METRIC_FIELDS.includes(k))
    .map((k) => {
      const near = closest(k, METRIC_FIELDS);
      return {
        path: at,
        message: `unknown field "${k}"`,
        hint: near
          ? `did you mean "${near}"?`
          : `remove it; a metric's fields are ${METRIC_FIELDS.join(', ')}`,
      };
    });
}

export interface MetricGateOptions {
  /**
   * The Prometheus server for `prometheus` and built-in metrics (address, auth, TLS, timeouts), or
   * several by name (`{ servers: { main: { address, bearerToken } }, default: 'main' }`), which a
   * metric picks with `server: name`. Each server's credentials go to that server only.
   */
  prometheus?: PrometheusServer | PrometheusServers;
  /** `web` metrics: timing defaults, and the servers they may call with their credentials. */
  web?: WebOptions;
  /**
   * Addresses beyond the configured servers that a spec may name (`provider.prometheus.address`,
   * `web.url`): origins or URL prefixes, called without any credentials. Anything else is refused.
   */
  allowAddresses?: string[];
  /** Host-provided data, referenced as `provider: { function: name }`. */
  functions?: Record<string, MetricFunction>;
  /** Extra template variables, e.g. `{ cluster: 'eu-1' }` for `{{cluster}}`. */
  vars?: Record<string, string>;
  /** Wait before retrying a look that errored (Argo: 10s). */
  errorRetryMs?: number;
  /** Only for backoff inside providers; the engine passes the time of each evaluation. */
  clock?: Clock;
}

interface MetricState {
  phase: MetricPhase;
  message?: string;
  nextAt: number;
  tally: Tally;
  judge?: unknown;
}

interface State {
  metrics: Record<string, MetricState>;
}

const BUILTIN_VARS = ['namespace', 'canary', 'stable', 'service', 'ingress', 'route', 'interval'];

/** The last hour in look intervals, 2 to 360 of them (Prometheus answers up to 11,000 points). */
const historyOf = (intervalMs: number) => ({
  stepMs: intervalMs,
  windows: Math.max(2, Math.min(360, Math.floor(3_600_000 / intervalMs))),
});

/**
 * The gate behind `analysis` steps, background analysis and blue-green pre/post-promotion checks.
 * Argo's counting (count, interval, initialDelay, failureLimit, inconclusiveLimit,
 * consecutiveErrorLimit, consecutiveSuccessLimit, dryRun) around pluggable judges, with all that
 * a run remembers in the returned state, so a resumed rollout continues the same tests.
 */
export function createMetricGate(options: MetricGateOptions = {}): MetricGate {
  const clock = options.clock ?? systemClock;
  checkGateOptions(options);
  const servers = prometheusServers(options.prometheus);
  const allow = options.allowAddresses ?? [];
  const sources = createSources({
    clock,
    prometheus: servers,
    allowAddresses: allow,
    ...(options.web ? { web: options.web } : {}),
    ...(options.functions ? { functions: options.functions } : {}),
  });
  const errorRetryMs = options.errorRetryMs ?? 10_000;

  const parse = (m: AnalysisMetric): MetricSource => MetricSourceSchema.parse(m);

  return {
    name: 'metrics',
    wiring: partWiring(
      'metrics',
      {
        ...(options.prometheus && !('query' in options.prometheus) ? { prometheus: options.prometheus } : {}),
        ...(options.web ? { web: options.web } : {}),
        ...(options.allowAddresses ? { allowAddresses: options.allowAddresses } : {}),
        ...(options.vars ? { vars: options.vars } : {}),
      },
      Object.keys(options.functions ?? {}).map((f) => `function provider ${f}`),
    ),
    validate(analysis: AnalysisSpec, path: string): KanaryIssue[] {
      const issues: KanaryIssue[] = [];
      const known = new Set([
        ...BUILTIN_VARS,
        ...Object.keys(analysis.args ?? {}).map((k) => `args.${k}`),
        ...Object.keys(options.vars ?? {}),
      ]);
      analysis.metrics.forEach((metric, i) => {
        const at = `${path}.metrics[${i}]`;
        issues.push(...unknownFields(metric, at));
        const parsed = MetricSourceSchema.safeParse(metric, { reportInput: true });
        if (!parsed.success) {
          issues.push(
            ...toKanaryIssues(parsed.error).map((x) => ({ ...x, path: x.path ? `${at}.${x.path}` : at })),
          );
          return;
        }
        const m = parsed.data;
        const hasConditions = Boolean(m.successCondition || m.failureCondition || m.thresholdRange);
        if (m.judge && hasConditions) {
          issues.push({
            path: `${at}.judge`,
            message: 'is set together with conditions or a thresholdRange',
            hint: 'use either a judge or successCondition/failureCondition/thresholdRange, not both',
          });
        }
        for (const key of ['successCondition', 'failureCondition'] as const) {
          const source = m[key];
          if (!source) continue;
          try {
            compileCondition(source);
          } catch (error) {
            if (!(error instanceof ExpressionError)) throw error;
            issues.push({
              path: `${at}.${key}`,
              message: `cannot be read: ${error.message}`,
              hint: 'write e.g. "result[0] >= 0.99" or "result < baseline * 1.1"',
            });
          }
        }
        let judge: ReturnType<typeof judgeFor>;
        try {
          judge = judgeFor(m);
        } catch {
          return; // the condition that does not parse is reported above
        }
        const p = m.provider;
        const refuse = (r: ReturnType<typeof resolveWeb> | ReturnType<typeof resolvePrometheus>) => {
          if (r?.kind === 'refused')
            issues.push({ path: `${at}.${r.field}`, message: r.message, hint: r.hint });
        };
        if ('web' in p) refuse(resolveWeb(options.web, allow, p.web, 'provider.web'));
        if ('web' in p && judge.needs !== 'scalar') {
          issues.push({
            path: `${at}.provider.web`,
            message: `gives one value, and the ${judge.kind} judge compares two sides`,
            hint: 'use a prometheus or function provider for this judge, or a threshold condition',
          });
        }
        if ('function' in p && !options.functions?.[p.function]) {
          issues.push({
            path: `${at}.provider.function`,
            message: `names "${p.function}", which was not given to the gate`,
            hint: `pass createMetricGate({ functions: { ${JSON.stringify(p.function)}: async (req) => ... } })`,
            remedy: 'metricFunction',
          });
        }
        const builtin = builtinOf(p);
        const readsPrometheus = 'prometheus' in p ? p.prometheus : builtin?.config;
        if (readsPrometheus) {
          const field = `provider.${'prometheus' in p ? 'prometheus' : (builtin?.router ?? 'prometheus')}`;
          if (readsPrometheus.server !== undefined && readsPrometheus.address !== undefined)
            issues.push({
              path: `${at}.${field}`,
              message: 'names both a server and an address',
              hint: 'give one: server (a configured server by name) or address',
            });
          const resolved = resolvePrometheus(servers, allow, readsPrometheus, field);
          refuse(resolved);
          if (!resolved)
            issues.push({
              path: `${at}.provider`,
              message: 'reads Prometheus, and no server is configured for it',
              hint:
                Object.keys(servers.servers).length > 0
                  ? `name one with server: ${Object.keys(servers.servers)
                      .map((n) => `"${n}"`)
                      .join(' or ')}, or set the gate's default`
                  : 'pass createMetricGate({ prometheus: { address: "http://prometheus:9090" } })',
            });
        }
        if ('prometheus' in p) {
          const q = p.prometheus;
          const shape = judge.needs === 'counts' ? 'object' : 'string';
          const missing =
            judge.needs === 'scalar'
              ? q.query === undefined && ['query']
              : [
                  q.canary === undefined || typeof q.canary !== shape ? 'canary' : '',
                  q.baseline === undefined || typeof q.baseline !== shape ? 'baseline' : '',
                ].filter(Boolean);
          if (missing && missing.length > 0) {
            issues.push({
              path: `${at}.provider.prometheus`,
              message: `needs ${missing.join(' and ')} for the ${judge.kind} judge`,
              hint:
                judge.needs === 'counts'
                  ? 'give canary: { total, bad } and baseline: { total, bad } counter selectors'
                  : judge.needs === 'histogram'
                    ? 'give canary and baseline _bucket selectors'
                    : judge.needs === 'samples'
                      ? 'give canary and baseline queries (evaluated as range queries)'
                      : 'give query: a PromQL expression whose value is `result`',
            });
          }
          const templates = [q.query, q.canary, q.baseline].flatMap((t) =>
            t === undefined ? [] : typeof t === 'string' ? [t] : [t.total, t.bad],
          );
          for (const t of templates) {
            const problem = promQLTemplateProblem(t);
            if (problem)
              issues.push({
                path: `${at}.provider.prometheus`,
                message: `has a query Kanary cannot fill safely: ${problem}`,
                hint: 'put each {{placeholder}} inside a quoted label value, or where a number or duration goes',
              });
          }
          for (const name of new Set(templates.flatMap(placeholders))) {
            if (!known.has(name)) {
              issues.push({
                path: `${at}.provider.prometheus`,
                message: `uses {{${name}}}, which has no value`,
                hint: `use one of ${[...known].map((k) => `{{${k}}}`).join(', ')}, or add it to the analysis args`,
              });
            }
          }
        }
        if (judge.needs !== 'scalar' && metric.interval === undefined) {
          issues.push({
            path: `${at}.interval`,
            message: `is required by the ${judge.kind} judge, which compares looks over time`,
            hint: 'set interval, e.g. "30s" (about one scrape interval or two)',
          });
        }
      });
      return issues;
    },

    async evaluate(input: GateInput): Promise<GateResult> {
      const { analysis, now, startedAt, ctx } = input;
      const prev = (input.state as State | undefined)?.metrics ?? {};
      // ingress-nginx labels requests with the Ingress users reach: the router's, when it is nginx.
      const router = ctx.state.wiring?.router;
      const stableIngress =
        router?.kind === 'nginx' && typeof router.options?.stableIngress === 'string'
          ? router.options.stableIngress
          : undefined;
      const vars: TemplateVars = {
        namespace: ctx.spec.namespace,
        canary: ctx.targets.canary?.name,
        stable: ctx.targets.stable?.name ?? ctx.spec.target.name,
        service: ctx.spec.target.service,
        ingress: analysis.args?.ingress ?? stableIngress ?? ctx.spec.target.service ?? ctx.spec.target.name,
        route: analysis.args?.route ?? ctx.spec.name,
        ...Object.fromEntries(Object.entries(analysis.args ?? {}).map(([k, v]) => [`args.${k}`, v])),
        ...options.vars,
      };
      const metrics: Record<string, MetricState> = {};
      const measurements: Measurement[] = [];
      // A run already ending (a deciding metric failed, errored or was inconclusive) looks no more.
      const terminating = analysis.metrics.some(
        (m) => !m.dryRun && ['failed', 'error', 'inconclusive'].includes(prev[m.name]?.phase ?? 'running'),
      );
      for (const m of analysis.metrics) {
        const before: MetricState = prev[m.name] ?? {
          phase: 'running',
          nextAt: startedAt + (m.initialDelay ?? 0),
          tally: emptyTally(),
        };
        metrics[m.name] = before;
        if (before.phase !== 'running' || before.nextAt > now || terminating) continue;
        const source = parse(m);
        const judge = judgeFor(source);
        let look: { state: unknown; look: Look };
        try {
          const data = await sources.measure({
            metric: m.name,
            provider: source.provider,
            needs: judge.needs,
            vars,
            window: { start: startedAt, end: now },
            intervalMs: m.interval,
            ...(judge.history && before.judge === undefined && m.interval !== undefined
              ? { history: historyOf(m.interval) }
              : {}),
            signal: ctx.signal,
          });
          look = judge.look(before.judge, data, { at: now });
        } catch (error) {
          look = { state: before.judge, look: { phase: 'error', message: (error as Error).message } };
        }
        const tally = addLook(before.tally, look.look.phase);
        const assessed = assess(m, tally, source.noDataLimit ?? 10);
        // A metric that ended badly says what its last look saw: the value, or the error.
        const lastLook =
          look.look.phase === 'error'
            ? look.look.message
            : look.look.value !== undefined
              ? `measured ${describeValue(look.look.value)}`
              : undefined;
        const verdict =
          ['failed', 'error', 'inconclusive'].includes(assessed.phase) && assessed.message && lastLook
            ? { ...assessed, message: `${assessed.message}; last look: ${lastLook}` }
            : assessed;
        const retry =
          look.look.phase === 'error' || (look.look.phase === 'nodata' && m.interval === undefined);
        metrics[m.name] = {
          phase: verdict.phase,
          ...(verdict.message ? { message: verdict.message } : {}),
          nextAt: now + (retry ? Math.min(errorRetryMs, m.interval ?? errorRetryMs) : (m.interval ?? 0)),
          tally,
          ...(look.state !== undefined ? { judge: look.state } : {}),
        };
        measurements.push({
          metric: m.name,
          at: now,
          phase: look.look.phase,
          ...(look.look.value !== undefined ? { value: look.look.value } : {}),
          detail: { judge: judge.kind, metricPhase: verdict.phase, ...look.look.detail },
          ...(look.look.message ? { message: look.look.message } : {}),
          ...(m.dryRun ? { dryRun: true } : {}),
        });
      }
      const deciding = analysis.metrics.filter((m) => !m.dryRun);
      const phaseOf = (m: AnalysisMetric) => (metrics[m.name] as MetricState).phase;
      const bad = deciding.filter((m) => ['failed', 'error', 'inconclusive'].includes(phaseOf(m)));
      const allDone = analysis.metrics.every((m) => phaseOf(m) !== 'running');
      const why = (list: AnalysisMetric[]) =>
        list
          .map(
            (m) =>
              `${m.name} ${phaseOf(m)}${metrics[m.name]?.message ? ` (${metrics[m.name]?.message})` : ''}`,
          )
          .join('; ');
      const state: State = { metrics };
      if (bad.length > 0 || allDone) {
        // Early abort stops metrics still running; they count as successful, as in Argo.
        const phase = worst(deciding.map((m) => (phaseOf(m) === 'running' ? 'successful' : phaseOf(m))));
        return {
          state: state as unknown as GateResult['state'],
          phase,
          measurements,
          message: why(bad.length ? bad : deciding),
        };
      }
      const nextAt = Math.min(
        ...analysis.metrics
          .filter((m) => phaseOf(m) === 'running')
          .map((m) => (metrics[m.name] as MetricState).nextAt),
      );
      return {
        state: state as unknown as GateResult['state'],
        phase: 'running',
        nextEvaluationAt: Math.max(nextAt, now),
        measurements,
      };
    },
  };
}

/**
 * Credentials in \`web\` itself would go to every URL a spec names; addresses that do not parse
 * would allow nothing. Both are the host's mistakes, told before anything runs.
 */
function checkGateOptions(options: MetricGateOptions): void {
  const web = (options.web ?? {}) as Record<string, unknown>;
  for (const key of ['bearerToken', 'basicAuth', 'headers', 'tls'])
    if (web[key] !== undefined)
      throw new KanaryError(
        'INVALID_SPEC',
        `createMetricGate: web.${key} would be sent to every URL a spec names`,
        {
          issues: [
            {
              path: `web.${key}`,
              message: 'is given for every web metric, whatever URL its spec names',
              hint: `bind it to the server it is for: web: { servers: { name: { url: "https://api.example/", ${key}: ... } } }`,
            },
          ],
        },
      );
  const addresses = [
    ...(options.allowAddresses ?? []).map((a, i) => [`allowAddresses[${i}]`, a] as const),
    ...Object.entries(options.web?.servers ?? {}).map(([n, s]) => [`web.servers.${n}.url`, s.url] as const),
  ];
  for (const [path, address] of addresses)
    if (normaliseBase(address) === undefined)
      throw new KanaryError('INVALID_SPEC', `createMetricGate: ${path} is not an http(s) URL: ${address}`, {
        issues: [
          {
            path,
            message: `is ${JSON.stringify(address)}, not an http(s) URL without credentials, query or fragment`,
            hint: 'write e.g. "https://metrics.example.com/api/"',
          },
        ],
      });
}

/** A measured value as a person reads it: 4 significant digits, lists as lists. */
function describeValue(v: unknown): string {
  if (typeof v === 'number') return String(Number(v.toPrecision(4)));
  if (Array.isArray(v)) return `[${v.map(describeValue).join(', ')}]`;
  return JSON.stringify(v) ?? String(v);
}
