import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import {
  type Clock,
  createConfigMapStateStore,
  createKubeClient,
  formatDuration,
  formatIssues,
  formatPlan,
  type IssueRemedy,
  isKanaryError,
  isStopped,
  type KubeObject,
  OWNED_SELECTOR,
  type Plan,
  parseDuration,
  type Rollout,
  type RolloutState,
  redact,
  rolesFor,
  systemClock,
} from '@kanary/core';
import { createPrometheusClient, type PrometheusClientOptions } from '@kanary/metrics';
import { KubeConfig } from '@kubernetes/client-node';
import { createAgent } from './agent/agent.ts';
import { rebuildRollout } from './agent/rebuild.ts';
import { EXIT, type ExitCode, exitCodeFor } from './exit-codes.ts';
import { isGroup, type LoadedFile, loadKanaryFileOrGroup } from './file/load.ts';
import { getCommand, type Keys } from './get/command.ts';
import { groupCommand, planGroup } from './group.ts';
import { outcomeLine, type Printer, paint, printProgress } from './output/progress.ts';
import { formatRoles } from './output/rbac.ts';
import { formatStatus } from './output/status.ts';
import { inCliTerms } from './output/words.ts';
import { renderRolloutReport, type SideSeries } from './report/html.ts';
import { sideSeries } from './report/series.ts';
import { filePrometheus, KubeConfigError, loadKubeConfig, wireRollout } from './wiring.ts';

export const USAGE = `kanary — progressive delivery on Kubernetes, from a YAML or JSON file

Usage:
  kanary plan    -f FILE                 validate the file and print every action, touching nothing
  kanary rbac    -f FILE                 print the least-privilege Role(s) the release needs (-o json)
  kanary run     -f FILE                 drive the rollout to its end (resumes a saved one)
  kanary status  -f FILE | NAME -n NS    where a rollout is (--output json for the saved state);
                 [--timeout D]           with --timeout: wait for its outcome and exit by it (for CI)
  kanary list    [-n NS | -A]            every rollout Kanary has state for (-A: all namespaces)
  kanary get     -f FILE | NAME -n NS    one look at a rollout and the world around it: step, pods and
                 [-w]                    images per side, the routing in the objects, verdicts, who
                                         drives, what to type next (-w: follow it until it ends)
  kanary report  -f FILE | NAME -n NS    write the rollout's HTML report (--html PATH; default
                 [--prometheus URL]      kanary-report-NAME.html): weight over time, decision points,
                                         timeline, verdicts; each side's errors and latency from
                                         Prometheus (the file's, the saved address, or --prometheus)
  kanary promote -f FILE [--full]        go on past a pause or an inconclusive analysis (--full: skip the rest)
  kanary abort   -f FILE [--reason TEXT] roll back to stable now; returns once traffic is on stable
                 [--force]               without trusting the saved state: from the routing objects' snapshots
  kanary retry   -f FILE                 start an aborted or failed rollout again
                 (abort and retry hand the control to the live driver, or carry it out here when
                  none is alive; --timeout DURATION bounds the wait)
  kanary pause | resume -f FILE          hold / release a driven rollout
                 (promote, abort, pause and resume also take NAME -n NS instead of -f FILE: the
                  rollout as its driver saved it)
  kanary undo    -f FILE [--full]        after a release succeeded: release the previous revision again,
                                         through the same steps (--full: straight to promotion)
  kanary version                         this CLI's version (also --version)
  kanary agent   [-n NS]                 the safety net: drive every rollout whose driver is gone
                 (all namespaces it may list unless -n; --interval D between looks, default 10s;
                  --prometheus URL --prometheus-token FILE: a token for adopted analyses, sent to that
                  server only; runs until Ctrl-C / SIGTERM)

The file is a rollout spec, or { rollout, router, prometheus, web, vars }, or a group released as one
({ group: { name, members: { NAME: { rollout, router } } }, prometheus, web, vars }: the members move
step by step together, one's abort rolls back all; every command acts on every member):
  rollout:    the RolloutSpec (checked against @kanary/core/rollout-spec.schema.json)
  router:     { istio: { virtualService, routes?, destinationRule? } } | { nginx: { stableIngress } }
              | { gatewayApi: { httpRoute } }   (weighted and headerMatch need one)
  prometheus: { address, bearerToken? (@file reads a file), tls?, timeoutMs? }  for analyses

Options:
  -f, --file FILE        the rollout file (YAML or JSON)
  -n, --namespace NS     namespace for status by NAME (default: the kubeconfig context's)
      --kubeconfig FILE  default: $KUBECONFIG, ~/.kube/config, or in-cluster
      --context NAME     kubeconfig context
  -o, --output FORMAT    text (default) or json
      --no-color         plain output (also when NO_COLOR is set or not a terminal)
      --timeout DURATION abort/retry: give up waiting after this long (exit 6; the control stays recorded);
                         status: wait this long for the outcome (0 promoted, 1 rolled back or failed, 6 still going)
  -A, --all-namespaces   list: every namespace
  -w, --watch            get: follow the rollout until it ends (on a terminal, redrawn in place)
      --interval D       get -w: between looks (default 2s); agent: between looks (default 10s)
      --lease-duration D how long a silent driver holds the rollout before another may take over
                         (default 30s; every process driving one rollout must use the same)

Exit codes: 0 done · 1 rolled back/aborted/failed · 2 invalid input (nothing written) ·
            3 cluster error · 4 refused by the rollout's state · 5 not found ·
            6 control recorded but not yet in effect after --timeout · 130 interrupted
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: Record<string, string | undefined>;
  isTTY?: boolean;
  /** For tests: a KubeConfig instead of the standard resolution, and the clock. */
  kubeConfig?: KubeConfig;
  clock?: Clock;
  /** Key presses, for `get -w` on a terminal (d: the judges' numbers, q: quit). */
  keys?: Keys;
  /** Aborted on Ctrl-C: `run` stops waiting and exits 130 (the state stays saved). */
  signal?: AbortSignal;
}

const COMMANDS = [
  'plan',
  'rbac',
  'run',
  'status',
  'promote',
  'abort',
  'retry',
  'pause',
  'resume',
  'undo',
  'agent',
  'list',
  'get',
  'report',
] as const;
type Command = (typeof COMMANDS)[number];

class UsageError extends Error {}

/** `kanary version`: this CLI's version and the core it drives with, and the Node running them. */
function versionText(): string {
  const version = (path: string | URL) =>
    (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  const cli = version(new URL('../package.json', import.meta.url));
  const core = version(createRequire(import.meta.url).resolve('@kanary/core/package.json'));
  return `kanary ${cli} (@kanary/core ${core}, Node.js ${process.versions.node})\n`;
}

function reportError(error: unknown, p: Printer, kubeConfig?: KubeConfig): ExitCode {
  if (error instanceof KubeConfigError) {
    p.err(`kanary: ${error.message}\n`);
    return EXIT.invalid;
  }
  // A namespace that does not exist surfaces at the first write in it (the Lease), in the API
  // server's words; said as what it is. No preflight read: a namespaced Role may not read Namespaces.
  const namespace = /namespaces "([^"]+)" not found/.exec(isKanaryError(error) ? error.message : '')?.[1];
  if (namespace) {
    const context = kubeConfig ? ` in context "${kubeConfig.getCurrentContext()}"` : '';
    p.err(
      `kanary: namespace "${namespace}" does not exist${context}: correct the rollout's namespace in the file, or create it (kubectl create namespace ${namespace})\n`,
    );
    return EXIT.invalid;
  }
  const unreachable = kubeConfig && unreachableServer(error, kubeConfig);
  if (unreachable) {
    p.err(`kanary: ${unreachable}\n`);
    return EXIT.cluster;
  }
  if (error instanceof UsageError) {
    p.err(`kanary: ${error.message}\nRun \`kanary --help\` for usage.\n`);
    return EXIT.invalid;
  }
  if (isKanaryError(error)) {
    // Fixes in the CLI's terms (file keys, commands) where the SDK's hint names its options.
    const issues = error.issues.map((i) => (i.remedy ? { ...i, hint: CLI_REMEDIES[i.remedy] } : i));
    const listed = formatIssues(issues);
    const sdkListed = formatIssues(error.issues);
    // Some messages list their issues already (preflight's): never twice.
    const inMessage = error.issues.length > 0 && error.message.includes(sdkListed);
    p.err(`kanary: ${inMessage ? error.message.replace(sdkListed, listed) : error.message}\n`);
    if (error.issues.length > 0 && !inMessage) p.err(`${listed}\n`);
    if (error.code === 'INVALID_SPEC' || error.code === 'UNSUPPORTED_CAPABILITY')
      p.err('Nothing was written to the cluster.\n');
    return exitCodeFor(error);
  }
  p.err(`kanary: ${(error as Error)?.message ?? String(error)}\n`);
  return EXIT.cluster;
}

/** What each remedy asks, said for someone writing a kanary file and typing commands. */
const CLI_REMEDIES: Record<IssueRemedy, string> = {
  router:
    'add a router to the file: router: { istio: { virtualService: NAME } }, { nginx: { stableIngress: NAME } } or { gatewayApi: { httpRoute: NAME } }',
  metricGate:
    'add prometheus: { address: URL } to the file (or web: for web metrics) so the analysis has a server to ask',
  webhookHost:
    'point the hook at another host: link-local and cloud metadata addresses are refused, and the CLI has no switch to allow them',
  sameSpec:
    'run the file the release started with; or end the release first with `kanary abort -f FILE` (a failed one: `kanary retry -f FILE`, then abort) — a new spec starts once it has ended',
  metricFunction:
    'function providers exist only in programs that embed Kanary; in a file use prometheus, web, or a built-in (istio, nginx, gatewayApi)',
};

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_SOCKET: 'connection closed',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server’s certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server’s certificate chain is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server’s certificate is not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server’s certificate is for another name',
  CERT_HAS_EXPIRED: 'the server’s certificate has expired',
};

/**
 * One sentence for an API server that could not be reached, naming it and the context, or
 * undefined when the error is something else. The cause chain carries the socket's code.
 */
function unreachableServer(error: unknown, kubeConfig: KubeConfig): string | undefined {
  let reason: string | undefined;
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 8; depth++) {
    if (typeof e.code === 'string' && e.code in NETWORK_CODES) {
      reason = NETWORK_CODES[e.code];
      break;
    }
    e = e.cause as typeof e;
  }
  if (!reason) return undefined;
  const server = kubeConfig.getCurrentCluster()?.server ?? 'the kubeconfig’s server';
  const context = kubeConfig.getCurrentContext();
  return `cannot reach the Kubernetes API server at ${server} (${reason}); check that the cluster is up and that context "${context}" is the one you meant (--context, --kubeconfig)`;
}

/** Runs one `kanary` command line; returns the exit code (never calls process.exit). */
export async function main(argv: string[], io: CliIo): Promise<ExitCode> {
  const env = io.env ?? process.env;
  const color = Boolean(io.isTTY) && !env.NO_COLOR && !argv.includes('--no-color');
  // Everything printed is redacted: specs and servers' answers may carry credentials.
  // Errors and notes on stderr in the CLI's terms (`kanary abort`, not `abort()`); stdout may be
  // JSON, where the saved state's own words stay as they are.
  const p: Printer = {
    out: (t) => io.stdout(redact(t)),
    err: (t) => io.stderr(redact(inCliTerms(t))),
    color,
  };
  let args: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        file: { type: 'string', short: 'f' },
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        full: { type: 'boolean' },
        reason: { type: 'string' },
        timeout: { type: 'string' },
        force: { type: 'boolean' },
        interval: { type: 'string' },
        prometheus: { type: 'string' },
        'prometheus-token': { type: 'string' },
        'lease-duration': { type: 'string' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        watch: { type: 'boolean', short: 'w' },
        html: { type: 'string' },
        'no-color': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  try {
    args = parse();
  } catch (error) {
    return reportError(new UsageError((error as Error).message), p);
  }
  const { values, positionals } = args;
  if (values.version || (positionals.length === 1 && positionals[0] === 'version')) {
    p.out(versionText());
    return EXIT.ok;
  }
  if (values.help || positionals.length === 0) {
    p.out(USAGE);
    return positionals.length === 0 && !values.help ? EXIT.invalid : EXIT.ok;
  }
  const [command, ...rest] = positionals;
  // The kubeconfig, loaded once when a command first needs it; kept to name the server in errors.
  const cluster: { kubeConfig?: KubeConfig } = {};
  const kube = () => {
    cluster.kubeConfig ??= io.kubeConfig ?? loadKubeConfig(values, env);
    return cluster.kubeConfig;
  };
  try {
    if (!COMMANDS.includes(command as Command))
      throw new UsageError(`unknown command "${command}"; use one of ${COMMANDS.join(', ')}`);
    if (values.output !== 'text' && values.output !== 'json')
      throw new UsageError(`--output must be text or json, not "${values.output}"`);
    const cmd = command as Command;
    if (cmd === 'get') return await get(rest, values, kube, io, p);
    if (cmd === 'report') return await report(rest, values, kube, io, p);
    if (cmd === 'status' && !values.file) {
      const name = rest[0];
      if (!name) throw new UsageError('status needs -f FILE or a rollout NAME');
      return await statusByName(name, values.namespace, values, kube, io, p);
    }
    if (BY_NAME.has(cmd) && !values.file && rest.length === 1 && rest[0])
      return await controlByName(cmd as ByName, rest[0], values, kube, io, p);
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (cmd === 'agent') return await runAgent(values, kube, io, p);
    if (cmd === 'list') return await listRollouts(values, kube, io, p);
    if (!values.file) throw new UsageError(`${cmd} needs -f FILE`);
    const found = loadKanaryFileOrGroup(values.file);
    if (isGroup(found)) {
      if (cmd === 'plan') return planGroup(found, io.kubeConfig ?? offlineKubeConfig(), values.output, p);
      if (cmd === 'rbac')
        return rbac(
          found.members.map((m) => m.loaded),
          values.output,
          io,
          p,
        );
      if (cmd === 'undo')
        throw new UsageError('undo goes back one rollout at a time: run it with a member’s own file');
      return await groupCommand(
        cmd,
        found,
        {
          kubeConfig: kube(),
          clock: io.clock ?? systemClock,
          ...(values['lease-duration'] ? { leaseDuration: values['lease-duration'] } : {}),
          ...(values.output ? { output: values.output } : {}),
          ...(values.full ? { full: true } : {}),
          ...(values.reason ? { reason: values.reason } : {}),
          ...(io.signal ? { signal: io.signal } : {}),
        },
        p,
      );
    }
    const loaded = found;
    if (cmd === 'plan') return plan(loaded, values.output, io, p);
    if (cmd === 'rbac') return rbac([loaded], values.output, io, p);
    const clock = io.clock ?? systemClock;
    const kubeConfig = kube();
    const rollout = wireRollout(loaded, {
      kubeConfig,
      clock,
      ...(values['lease-duration'] ? { leaseDuration: values['lease-duration'] } : {}),
    });
    switch (cmd) {
      case 'run':
        return await run(rollout, clock, io, p);
      case 'undo':
        return await run(rollout, clock, io, p, () => rollout.undo({ full: values.full === true }));
      case 'status': {
        let state = await rollout.load();
        if (state.seq === 0) {
          p.err(
            `kanary: ${state.key.namespace}/${state.key.name} has not started; \`kanary run -f ${values.file}\` starts it\n`,
          );
          return EXIT.notFound;
        }
        let waited: ExitCode = EXIT.ok;
        if (values.timeout) {
          const done = await untilOutcome(() => rollout.load(), values.timeout, clock, io.signal, p);
          state = done.state ?? state;
          waited = done.code;
        }
        p.out(
          values.output === 'json'
            ? `${JSON.stringify(state, null, 2)}\n`
            : formatStatus(state, rollout.plan(), clock.now()),
        );
        return waited;
      }
      default:
        return await control(cmd, rollout, values, io, clock, p);
    }
  } catch (error) {
    return reportError(error, p, cluster.kubeConfig);
  }
}

function plan(loaded: LoadedFile, output: string | undefined, io: CliIo, p: Printer): ExitCode {
  // A dry run needs no cluster: the plan comes from the spec alone.
  const rollout = wireRollout(loaded, { kubeConfig: io.kubeConfig ?? offlineKubeConfig() });
  const planned = rollout.plan();
  p.out(output === 'json' ? `${JSON.stringify(planned, null, 2)}\n` : `${formatPlan(planned)}\n`);
  return EXIT.ok;
}

/** The least-privilege Roles the rollouts of a file need (all members of a group), without a cluster. */
function rbac(loaded: LoadedFile[], output: string | undefined, io: CliIo, p: Printer): ExitCode {
  const kubeConfig = io.kubeConfig ?? offlineKubeConfig();
  const rollouts = loaded.map((l) => wireRollout(l, { kubeConfig }));
  const first = rollouts[0]?.spec;
  const roles = rolesFor(
    rollouts.flatMap((r) => r.permissions()),
    {
      name: rollouts.length === 1 && first ? `kanary-${first.name}` : 'kanary',
      namespace: first?.namespace ?? 'default',
    },
  );
  p.out(
    output === 'json'
      ? `${JSON.stringify(
          roles.map(({ reasons: _r, ...role }) => role),
          null,
          2,
        )}
`
      : formatRoles(roles),
  );
  return EXIT.ok;
}

/** A KubeConfig that is never used to connect: `plan` must work without a cluster. */
function offlineKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'offline', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'offline' }],
    contexts: [{ name: 'offline', cluster: 'offline', user: 'offline' }],
    currentContext: 'offline',
  });
  return kc;
}

async function run(
  rollout: Rollout,
  clock: Clock,
  io: CliIo,
  p: Printer,
  drive: () => Promise<RolloutState> = () => rollout.run(),
): Promise<ExitCode> {
  printProgress(rollout, p, () => clock.now());
  const outcome = await untilInterrupted(rollout, drive(), io);
  if (outcome === 'interrupted') {
    p.err(
      'kanary: stopped driving and released the lease. The state is saved: `kanary run` resumes at once; `kanary abort` rolls back.\n',
    );
    return EXIT.interrupted;
  }
  const final: RolloutState = outcome;
  const tone = final.phase === 'succeeded' ? 32 : 31;
  p.out(`${paint(p, tone, outcomeLine(final))}\n`);
  return final.phase === 'succeeded' ? EXIT.ok : EXIT.rolledBack;
}

/** Awaits `work`; on Ctrl-C closes the rollout (interrupting, never failing, and releasing the lease). */
async function untilInterrupted<T>(
  rollout: Rollout,
  work: Promise<T>,
  io: CliIo,
): Promise<T | 'interrupted'> {
  const interrupted = new Promise<'interrupted'>((resolve) => {
    if (io.signal?.aborted) resolve('interrupted');
    io.signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
  });
  const outcome = await Promise.race([work, interrupted]);
  if (outcome === 'interrupted') {
    work.catch(() => undefined);
    await rollout.close();
  }
  return outcome;
}

async function control(
  cmd: Exclude<Command, 'plan' | 'run' | 'status'>,
  rollout: Rollout,
  values: {
    full?: boolean | undefined;
    reason?: string | undefined;
    timeout?: string | undefined;
    force?: boolean | undefined;
  },
  io: CliIo,
  clock: Clock,
  p: Printer,
): Promise<ExitCode> {
  const name = `${rollout.key.namespace}/${rollout.key.name}`;
  // An abort needs no trusted state: without one it restores the routing objects from their snapshots.
  if (cmd !== 'abort') {
    const state = await rollout.load();
    if (state.seq === 0) {
      p.err(`kanary: ${name} has not started; there is nothing to ${cmd}\n`);
      return EXIT.notFound;
    }
  }
  if (cmd === 'abort' || cmd === 'retry') {
    // Carried out: by the live driver if there is one, else here. Say which, and what happened.
    rollout.on('leadership', (e) => {
      if (e.status === 'acquired')
        p.err(`kanary: no live driver holds ${name}; carrying the ${cmd} out here (epoch ${e.epoch})\n`);
    });
    if (cmd === 'retry') printProgress(rollout, p, () => clock.now());
    const options = {
      ...(values.timeout ? { timeout: values.timeout } : {}),
      ...(cmd === 'abort' && values.force ? { force: true } : {}),
    };
    const work =
      cmd === 'abort'
        ? rollout.abort(values.reason ?? 'aborted with kanary abort', options)
        : rollout.retry(options);
    const after = await untilInterrupted(rollout, work, io);
    if (after === 'interrupted') {
      p.err(
        `kanary: interrupted; the ${cmd} is recorded in ${name}'s state and the next driver carries it out\n`,
      );
      return EXIT.interrupted;
    }
    if (cmd === 'abort') {
      p.out(
        after.phase === 'failed'
          ? `abort of ${name} failed: ${after.error?.message ?? 'see kanary status'}\n`
          : `${name}: traffic is back on stable (${after.phase})\n`,
      );
      return after.phase === 'failed' ? EXIT.rolledBack : EXIT.ok;
    }
    p.out(`${paint(p, after.phase === 'succeeded' ? 32 : 31, outcomeLine(after))}\n`);
    return after.phase === 'succeeded' || !isStoppedPhase(after.phase) ? EXIT.ok : EXIT.rolledBack;
  }
  const after =
    cmd === 'promote'
      ? await (values.full ? rollout.promoteFull() : rollout.promote())
      : cmd === 'pause'
        ? await rollout.pause()
        : await rollout.resume();
  const lease = await rollout.inspectLease();
  const who =
    lease?.record?.holder && !lease.free
      ? `${lease.record.holder} holds the lease and acts on it at its next look at the state`
      : 'nobody drives it now: it takes effect when a driver runs (`kanary run`, or the agent)';
  p.out(
    `${cmd}${cmd === 'promote' && values.full ? ' --full' : ''} recorded in ${name}'s state (${after.phase}); ${who}\n`,
  );
  return EXIT.ok;
}

const isStoppedPhase = (phase: string) => phase === 'succeeded' || phase === 'aborted' || phase === 'failed';

async function runAgent(
  values: {
    namespace?: string | undefined;
    kubeconfig?: string | undefined;
    context?: string | undefined;
    interval?: string | undefined;
    'lease-duration'?: string | undefined;
    prometheus?: string | undefined;
    'prometheus-token'?: string | undefined;
  },
  kube: () => KubeConfig,
  io: CliIo,
  p: Printer,
): Promise<ExitCode> {
  const token = prometheusToken(values);
  const kubeConfig = kube();
  const clock = io.clock ?? systemClock;
  const agent = createAgent({
    client: createKubeClient({ kubeConfig, fieldManager: 'kanary-agent', clock }),
    clock,
    ...(values.namespace ? { namespaces: [values.namespace] } : {}),
    ...(values.interval ? { pollInterval: values.interval } : {}),
    ...(values['lease-duration'] ? { lockTtl: values['lease-duration'] } : {}),
    ...(token && values.prometheus
      ? { credentials: { prometheus: { address: values.prometheus, bearerToken: token } } }
      : {}),
  });
  const at = () => new Date(clock.now()).toISOString();
  const id = (k: { namespace: string; name: string }) => `${k.namespace}/${k.name}`;
  agent.on('adopted', (e) =>
    p.out(
      `${at()} adopted ${id(e.key)} (${e.phase}): ${
        e.policy === 'continue'
          ? e.code.length
            ? `continuing without ${e.code.join(', ')}`
            : 'continuing where it stopped'
          : `rolling back (orphanPolicy abort: ${e.code.join(', ')} exist only in its host's code)`
      }\n`,
    ),
  );
  agent.on('skipped', (e) => p.out(`${at()} not driving ${id(e.key)}: ${e.reason}\n`));
  agent.on('released', (e) => p.out(`${at()} released ${id(e.key)}: ${e.phase ?? `stopped (${e.error})`}\n`));
  agent.on('error', (e) => p.err(`${at()} ${e.message}\n`));
  p.err(`kanary agent: watching ${values.namespace ?? 'all namespaces'}\n`);
  const stop = () => void agent.close();
  if (io.signal?.aborted) stop();
  io.signal?.addEventListener('abort', stop, { once: true });
  await agent.run();
  p.err('kanary agent: stopped; the rollouts it drove keep their state and leases were released\n');
  return EXIT.ok;
}

async function statusByName(
  name: string,
  namespace: string | undefined,
  values: { output?: string | undefined; timeout?: string | undefined },
  kube: () => KubeConfig,
  io: CliIo,
  p: Printer,
): Promise<ExitCode> {
  const kubeConfig = kube();
  const ns = namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  const store = createConfigMapStateStore({ client: createKubeClient({ kubeConfig }) });
  const stored = await store.load({ namespace: ns, name });
  if (!stored) {
    p.err(`kanary: no rollout ${ns}/${name} (no ConfigMap kanary-${name} in ${ns})\n`);
    return EXIT.notFound;
  }
  const clock = io.clock ?? systemClock;
  let state = stored.state;
  let waited: ExitCode = EXIT.ok;
  if (values.timeout) {
    const load = async () => (await store.load({ namespace: ns, name }))?.state;
    const done = await untilOutcome(load, values.timeout, clock, io.signal, p);
    state = done.state ?? state;
    waited = done.code;
  }
  p.out(
    values.output === 'json'
      ? `${JSON.stringify(state, null, 2)}\n`
      : formatStatus(state, undefined, clock.now()),
  );
  return waited;
}

/** The controls that work by name: they only record, or roll back (which needs no credentials). */
type ByName = 'promote' | 'pause' | 'resume' | 'abort';
const BY_NAME: ReadonlySet<string> = new Set<ByName>(['promote', 'pause', 'resume', 'abort']);

/**
 * `kanary promote|pause|resume|abort NAME -n NS`: the rollout rebuilt from the wiring its driver
 * saved (as the agent does), so a chat bot or a person needs no file. `retry` and `undo` drive the
 * release here, analyses included, and so need the file's credentials: they stay `-f FILE`.
 */
async function controlByName(
  cmd: ByName,
  name: string,
  values: Parameters<typeof control>[2] & {
    namespace?: string | undefined;
    'lease-duration'?: string | undefined;
  },
  kube: () => KubeConfig,
  io: CliIo,
  p: Printer,
): Promise<ExitCode> {
  const kubeConfig = kube();
  const clock = io.clock ?? systemClock;
  const namespace =
    values.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  const client = createKubeClient({ kubeConfig, fieldManager: 'kanary-cli', clock });
  const stored = await createConfigMapStateStore({ client }).load({ namespace, name });
  if (!stored) {
    p.err(`kanary: no rollout ${namespace}/${name} (no ConfigMap kanary-${name} in ${namespace})\n`);
    return EXIT.notFound;
  }
  if (!stored.state.wiring) {
    p.err(
      `kanary: ${namespace}/${name} was started by a program that saved no wiring; ${cmd} it with -f FILE or from that program\n`,
    );
    return EXIT.invalid;
  }
  const rollout = rebuildRollout(stored.state.wiring, {
    client,
    clock,
    ...(values['lease-duration'] ? { lockTtl: values['lease-duration'] } : {}),
  });
  return control(cmd, rollout, values, io, clock, p);
}

/**
 * `--prometheus-token FILE`, read. A token is bound to the server it is for (`--prometheus URL`):
 * a saved rollout names its own address, and anyone who can write its state ConfigMap could
 * otherwise point the token elsewhere.
 */
function prometheusToken(values: {
  prometheus?: string | undefined;
  'prometheus-token'?: string | undefined;
}): string | undefined {
  const file = values['prometheus-token'];
  if (!file) return undefined;
  if (!values.prometheus)
    throw new UsageError('--prometheus-token needs --prometheus URL: the token is sent to that server only');
  return readFileSync(file, 'utf8').trim();
}

/** The one rollout a command names: by `-f FILE` (then its file too) or by NAME and namespace. */
function rolloutOf(
  cmd: string,
  rest: string[],
  values: { file?: string | undefined; namespace?: string | undefined },
  kubeConfig: KubeConfig,
): { key: { namespace: string; name: string }; loaded?: LoadedFile } {
  if (rest.length > 1) throw new UsageError(`unexpected argument "${rest[1]}"`);
  if (values.file && rest[0]) throw new UsageError(`${cmd} takes -f FILE or a rollout NAME, not both`);
  if (values.file) {
    const found = loadKanaryFileOrGroup(values.file);
    if (isGroup(found)) throw new UsageError(`${cmd} is for one rollout: give a member’s NAME and -n NS`);
    return { key: { namespace: found.spec.namespace, name: found.spec.name }, loaded: found };
  }
  const name = rest[0];
  if (!name) throw new UsageError(`${cmd} needs -f FILE or a rollout NAME`);
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return { key: { name, namespace: values.namespace ?? context?.namespace ?? 'default' } };
}

/** `kanary report NAME [-n NS] | -f FILE [--prometheus URL] [--html PATH]`. */
async function report(
  rest: string[],
  values: {
    file?: string | undefined;
    namespace?: string | undefined;
    prometheus?: string | undefined;
    'prometheus-token'?: string | undefined;
    html?: string | undefined;
  },
  kube: () => KubeConfig,
  io: CliIo,
  p: Printer,
): Promise<ExitCode> {
  const token = prometheusToken(values);
  const kubeConfig = kube();
  const { key, loaded } = rolloutOf('report', rest, values, kubeConfig);
  const clock = io.clock ?? systemClock;
  const client = createKubeClient({ kubeConfig, watch: false, clock });
  try {
    const stored = await createConfigMapStateStore({ client }).load(key);
    if (!stored) {
      p.err(
        `kanary: no rollout ${key.namespace}/${key.name} (no ConfigMap kanary-${key.name} in ${key.namespace})\n`,
      );
      return EXIT.notFound;
    }
    const state = stored.state;
    const wiring = state.wiring;
    let plan: Plan | undefined;
    try {
      plan = wiring ? rebuildRollout(wiring, { client, clock }).plan() : undefined;
    } catch {
      plan = undefined;
    }
    // The server: --prometheus (with its token), the file's (with its credentials), or the saved address.
    const saved = (wiring?.gate?.options as { prometheus?: { address?: string } } | undefined)?.prometheus
      ?.address;
    const server: PrometheusClientOptions | undefined = values.prometheus
      ? { address: values.prometheus, ...(token ? { bearerToken: token } : {}) }
      : ((loaded && filePrometheus(loaded.file)) ?? (saved ? { address: saved } : undefined));
    let series: SideSeries | undefined;
    const { stable, canary } = state.targets;
    if (server && wiring?.router && stable && canary && state.startedAt !== undefined) {
      try {
        const routerOptions = wiring.router.options as { stableIngress?: string } | undefined;
        series = await sideSeries({
          client: createPrometheusClient({ ...server, clock }),
          router: wiring.router.kind,
          namespace: key.namespace,
          canary: canary.name,
          stable: stable.name,
          ...(routerOptions?.stableIngress ? { ingress: routerOptions.stableIngress } : {}),
          start: state.startedAt,
          end: state.finishedAt ?? clock.now(),
        });
      } catch (error) {
        p.err(
          `kanary: could not read Prometheus at ${server.address}: ${(error as Error).message}; the report shows what the state holds\n`,
        );
      }
    }
    const path = values.html ?? `kanary-report-${key.name}.html`;
    const html = renderRolloutReport({
      state,
      ...(plan ? { plan } : {}),
      ...(series ? { series } : {}),
      now: clock.now(),
    });
    writeFileSync(path, html);
    p.out(`wrote ${path}\n`);
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

/** `kanary get NAME [-n NS] | -f FILE [-w]`. */
async function get(
  rest: string[],
  values: {
    file?: string | undefined;
    namespace?: string | undefined;
    watch?: boolean | undefined;
    interval?: string | undefined;
    timeout?: string | undefined;
    output?: string | undefined;
  },
  kube: () => KubeConfig,
  io: CliIo,
  p: Printer,
): Promise<ExitCode> {
  const kubeConfig = kube();
  const { key } = rolloutOf('get', rest, values, kubeConfig);
  const interval = values.interval ? parseTimeout(values.interval, '--interval') : 2_000;
  return getCommand(
    {
      key,
      target: values.file ? { file: values.file } : key,
      kubeConfig,
      clock: io.clock ?? systemClock,
      watch: Boolean(values.watch),
      output: values.output ?? 'text',
      intervalMs: Math.max(100, interval),
      ...(values.timeout ? { timeoutMs: parseTimeout(values.timeout) } : {}),
      tty: Boolean(io.isTTY),
      ...(io.keys ? { keys: io.keys } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    },
    p,
  );
}

/** `kanary list [-A]`: every rollout Kanary has saved state for, one line each. */
async function listRollouts(
  values: {
    namespace?: string | undefined;
    'all-namespaces'?: boolean | undefined;
    output?: string | undefined;
  },
  kube: () => KubeConfig,
  io: CliIo,
  p: Printer,
): Promise<ExitCode> {
  const kubeConfig = kube();
  const ns = values['all-namespaces']
    ? undefined
    : (values.namespace ??
      kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ??
      'default');
  const client = createKubeClient({ kubeConfig, watch: false });
  try {
    const now = (io.clock ?? systemClock).now();
    const maps = await client.list<KubeObject & { data?: Record<string, string> }>(
      'v1',
      'ConfigMap',
      ns,
      OWNED_SELECTOR,
    );
    const rows = maps
      .map((cm) => listRow(cm, now))
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    if (values.output === 'json') {
      p.out(`${JSON.stringify(rows, null, 2)}\n`);
      return EXIT.ok;
    }
    if (rows.length === 0) {
      p.out(ns ? `no rollouts in namespace ${ns} (-A: all namespaces)\n` : 'no rollouts in any namespace\n');
      return EXIT.ok;
    }
    const table = [
      ['NAMESPACE', 'NAME', 'STRATEGY', 'STEP', 'PHASE', 'WEIGHT', 'UPDATED'],
      ...rows.map((r) => [
        r.namespace,
        r.name,
        r.strategy,
        r.step,
        r.phase,
        r.weight,
        `${formatDuration(r.ageMs)} ago`,
      ]),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
    p.out(
      `${table
        .map((row) =>
          row
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        )
        .join('\n')}\n`,
    );
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

/** One rollout's line in `kanary list`, from its state ConfigMap (unreadable state said as such). */
function listRow(cm: KubeObject & { data?: Record<string, string> }, now: number) {
  const namespace = cm.metadata.namespace ?? '';
  const fallback = cm.metadata.name.replace(/^kanary-/, '');
  let state: RolloutState;
  try {
    state = JSON.parse(cm.data?.['state.json'] ?? '') as RolloutState;
  } catch {
    return {
      namespace,
      name: fallback,
      strategy: '?',
      step: '?',
      phase: 'unreadable',
      weight: '?',
      ageMs: 0,
    };
  }
  const spec = state.wiring?.spec as { strategy?: { type?: string }; steps?: unknown[] } | undefined;
  const steps = spec?.steps?.length;
  const { section, step } = state.cursor;
  return {
    namespace,
    name: state.key?.name ?? fallback,
    strategy: spec?.strategy?.type ?? '?',
    step: section === 'steps' ? `${step + 1}${steps ? `/${steps}` : ''}` : section,
    phase: state.phase,
    weight: spec?.strategy?.type === 'rolling' ? '–' : `${state.weights.canary}%`,
    ageMs: Math.max(0, now - state.updatedAt),
  };
}

/**
 * `status --timeout D`: waits for the release's outcome, for CI pipelines — exit 0 promoted, 1
 * rolled back, aborted or failed, 6 still going after D (a pause waiting for a person included),
 * 130 interrupted. Reads the saved state every 2 s; says each phase change on stderr.
 */
async function untilOutcome(
  load: () => Promise<RolloutState | undefined>,
  timeout: string,
  clock: Clock,
  signal: AbortSignal | undefined,
  p: Printer,
): Promise<{ code: ExitCode; state: RolloutState | undefined }> {
  const limit = parseTimeout(timeout);
  const until = clock.now() + limit;
  let last: string | undefined;
  for (;;) {
    const state = await load();
    if (state && state.phase !== last) {
      if (last !== undefined) p.err(`kanary: ${state.key.namespace}/${state.key.name} is ${state.phase}\n`);
      last = state.phase;
    }
    // Ended or failed (a release still retiring its old version is decided too).
    if (state && isStopped(state))
      return { code: state.phase === 'succeeded' ? EXIT.ok : EXIT.rolledBack, state };
    if (signal?.aborted) return { code: EXIT.interrupted, state };
    if (clock.now() >= until) {
      p.err(`kanary: still ${state?.phase ?? 'not started'} after ${timeout} (--timeout)\n`);
      return { code: EXIT.timeout, state };
    }
    await clock.sleep(Math.min(2_000, Math.max(1, until - clock.now())), signal);
  }
}

function parseTimeout(text: string, option = '--timeout'): number {
  try {
    return parseDuration(text);
  } catch {
    throw new UsageError(`${option} must be a duration such as 10m or 90s, not "${text}"`);
  }
}
