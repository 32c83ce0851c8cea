import { parseArgs } from 'node:util';
import {
  type Clock,
  createConfigMapStateStore,
  createKubeClient,
  formatIssues,
  formatPlan,
  isKanaryError,
  type Rollout,
  type RolloutState,
  systemClock,
} from '@kanary/core';
import { KubeConfig } from '@kubernetes/client-node';
import { EXIT, type ExitCode, exitCodeFor } from './exit-codes.ts';
import { type LoadedFile, loadKanaryFile } from './file/load.ts';
import { outcomeLine, type Printer, paint, printProgress } from './output/progress.ts';
import { formatStatus } from './output/status.ts';
import { loadKubeConfig, wireRollout } from './wiring.ts';

export const USAGE = `kanary — progressive delivery on Kubernetes, from a YAML or JSON file

Usage:
  kanary plan    -f FILE                 validate the file and print every action, touching nothing
  kanary run     -f FILE                 drive the rollout to its end (resumes a saved one)
  kanary status  -f FILE | NAME -n NS    where a rollout is (--output json for the saved state)
  kanary promote -f FILE [--full]        go on past a pause or an inconclusive analysis (--full: skip the rest)
  kanary abort   -f FILE [--reason TEXT] roll back to stable now
  kanary retry   -f FILE                 start an aborted or failed rollout again
  kanary pause | resume -f FILE          hold / release a driven rollout

The file is a rollout spec, or { rollout, router, prometheus, web, vars }:
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

Exit codes: 0 done · 1 rolled back/aborted/failed · 2 invalid input (nothing written) ·
            3 cluster error · 4 refused by the rollout's state · 5 not found · 130 interrupted
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env?: Record<string, string | undefined>;
  isTTY?: boolean;
  /** For tests: a KubeConfig instead of the standard resolution, and the clock. */
  kubeConfig?: KubeConfig;
  clock?: Clock;
  /** Aborted on Ctrl-C: `run` stops waiting and exits 130 (the state stays saved). */
  signal?: AbortSignal;
}

const COMMANDS = ['plan', 'run', 'status', 'promote', 'abort', 'retry', 'pause', 'resume'] as const;
type Command = (typeof COMMANDS)[number];

class UsageError extends Error {}

function reportError(error: unknown, p: Printer): ExitCode {
  if (error instanceof UsageError) {
    p.err(`kanary: ${error.message}\nRun \`kanary --help\` for usage.\n`);
    return EXIT.invalid;
  }
  if (isKanaryError(error)) {
    p.err(`kanary: ${error.message}\n`);
    if (error.issues.length > 0) p.err(`${formatIssues(error.issues)}\n`);
    if (error.code === 'INVALID_SPEC' || error.code === 'UNSUPPORTED_CAPABILITY')
      p.err('Nothing was written to the cluster.\n');
    return exitCodeFor(error);
  }
  p.err(`kanary: ${(error as Error)?.message ?? String(error)}\n`);
  return EXIT.cluster;
}

/** Runs one `kanary` command line; returns the exit code (never calls process.exit). */
export async function main(argv: string[], io: CliIo): Promise<ExitCode> {
  const env = io.env ?? process.env;
  const color = Boolean(io.isTTY) && !env.NO_COLOR && !argv.includes('--no-color');
  const p: Printer = { out: io.stdout, err: io.stderr, color };
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
  if (values.help || positionals.length === 0) {
    p.out(USAGE);
    return positionals.length === 0 && !values.help ? EXIT.invalid : EXIT.ok;
  }
  if (values.version) {
    p.out('kanary 0.1.0\n');
    return EXIT.ok;
  }
  const [command, ...rest] = positionals;
  try {
    if (!COMMANDS.includes(command as Command))
      throw new UsageError(`unknown command "${command}"; use one of ${COMMANDS.join(', ')}`);
    if (values.output !== 'text' && values.output !== 'json')
      throw new UsageError(`--output must be text or json, not "${values.output}"`);
    const cmd = command as Command;
    if (cmd === 'status' && !values.file) {
      const name = rest[0];
      if (!name) throw new UsageError('status needs -f FILE or a rollout NAME');
      return await statusByName(name, values.namespace, values, io, p);
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (!values.file) throw new UsageError(`${cmd} needs -f FILE`);
    const loaded = loadKanaryFile(values.file);
    if (cmd === 'plan') return plan(loaded, values.output, io, p);
    const clock = io.clock ?? systemClock;
    const kubeConfig = io.kubeConfig ?? loadKubeConfig(values);
    const rollout = wireRollout(loaded, { kubeConfig, clock });
    switch (cmd) {
      case 'run':
        return await run(rollout, clock, io, p);
      case 'status': {
        const state = await rollout.load();
        if (state.seq === 0) {
          p.err(
            `kanary: ${state.key.namespace}/${state.key.name} has not started; \`kanary run -f ${values.file}\` starts it\n`,
          );
          return EXIT.notFound;
        }
        p.out(
          values.output === 'json'
            ? `${JSON.stringify(state, null, 2)}\n`
            : formatStatus(state, rollout.plan(), clock.now()),
        );
        return EXIT.ok;
      }
      default:
        return await control(cmd, rollout, values, p);
    }
  } catch (error) {
    return reportError(error, p);
  }
}

function plan(loaded: LoadedFile, output: string | undefined, io: CliIo, p: Printer): ExitCode {
  // A dry run needs no cluster: the plan comes from the spec alone.
  const rollout = wireRollout(loaded, { kubeConfig: io.kubeConfig ?? offlineKubeConfig() });
  const planned = rollout.plan();
  p.out(output === 'json' ? `${JSON.stringify(planned, null, 2)}\n` : `${formatPlan(planned)}\n`);
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

async function run(rollout: Rollout, clock: Clock, io: CliIo, p: Printer): Promise<ExitCode> {
  printProgress(rollout, p, () => clock.now());
  const driving = rollout.run();
  const interrupted = new Promise<'interrupted'>((resolve) => {
    if (io.signal?.aborted) resolve('interrupted');
    io.signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
  });
  const outcome = await Promise.race([driving, interrupted]);
  if (outcome === 'interrupted') {
    driving.catch(() => undefined);
    p.err(
      'kanary: stopped driving. The state is saved: `kanary run` resumes once the lock lease lapses (30s); `kanary abort` rolls back.\n',
    );
    return EXIT.interrupted;
  }
  const final: RolloutState = outcome;
  const tone = final.phase === 'succeeded' ? 32 : 31;
  p.out(`${paint(p, tone, outcomeLine(final))}\n`);
  return final.phase === 'succeeded' ? EXIT.ok : EXIT.rolledBack;
}

async function control(
  cmd: Exclude<Command, 'plan' | 'run' | 'status'>,
  rollout: Rollout,
  values: { full?: boolean | undefined; reason?: string | undefined },
  p: Printer,
): Promise<ExitCode> {
  const state = await rollout.load();
  if (state.seq === 0) {
    p.err(`kanary: ${state.key.namespace}/${state.key.name} has not started; there is nothing to ${cmd}\n`);
    return EXIT.notFound;
  }
  const after =
    cmd === 'promote'
      ? await (values.full ? rollout.promoteFull() : rollout.promote())
      : cmd === 'abort'
        ? await rollout.abort(values.reason ?? 'aborted with kanary abort')
        : cmd === 'retry'
          ? await rollout.retry()
          : cmd === 'pause'
            ? await rollout.pause()
            : await rollout.resume();
  p.out(
    `${cmd}${cmd === 'promote' && values.full ? ' --full' : ''} sent to ${after.key.namespace}/${after.key.name} (${after.phase}); the process running it acts on it within seconds\n`,
  );
  return EXIT.ok;
}

async function statusByName(
  name: string,
  namespace: string | undefined,
  values: { kubeconfig?: string | undefined; context?: string | undefined; output?: string | undefined },
  io: CliIo,
  p: Printer,
): Promise<ExitCode> {
  const kubeConfig = io.kubeConfig ?? loadKubeConfig(values);
  const ns = namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
  const store = createConfigMapStateStore({ client: createKubeClient({ kubeConfig }) });
  const stored = await store.load({ namespace: ns, name });
  if (!stored) {
    p.err(`kanary: no rollout ${ns}/${name} (no ConfigMap kanary-${name} in ${ns})\n`);
    return EXIT.notFound;
  }
  p.out(
    values.output === 'json'
      ? `${JSON.stringify(stored.state, null, 2)}\n`
      : formatStatus(stored.state, undefined, (io.clock ?? systemClock).now()),
  );
  return EXIT.ok;
}
