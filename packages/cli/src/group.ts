import { type Clock, createRolloutGroup, formatPlan, type Rollout } from '@kanary/core';
import type { KubeConfig } from '@kubernetes/client-node';
import { EXIT, type ExitCode } from './exit-codes.ts';
import type { LoadedGroup } from './file/load.ts';
import { outcomeLine, type Printer, paint, printProgress } from './output/progress.ts';
import { formatStatus } from './output/status.ts';
import { wireRollout } from './wiring.ts';

/**
 * A group file (a front-end and its back-end released as one) driven by one `kanary run`:
 * the members advance step by step together, an abort of one rolls back all, and promotion is all
 * or nothing (see `createRolloutGroup`). Other commands act on every member.
 */
export interface GroupCommandOptions {
  kubeConfig: KubeConfig;
  clock: Clock;
  leaseDuration?: string;
  output?: string;
  full?: boolean;
  reason?: string;
  signal?: AbortSignal;
}

/** Lines of one member, prefixed with its name. */
const prefixed = (p: Printer, name: string): Printer => ({
  ...p,
  out: (t) => p.out(t.replace(/^(?=.)/gm, `${paint(p, 35, name)} `)),
  err: (t) => p.err(t.replace(/^(?=.)/gm, `${paint(p, 35, name)} `)),
});

export function planGroup(
  group: LoadedGroup,
  kubeConfig: KubeConfig,
  output: string | undefined,
  p: Printer,
): ExitCode {
  const plans = Object.fromEntries(
    group.members.map((m) => [m.name, wireRollout(m.loaded, { kubeConfig }).plan()]),
  );
  if (output === 'json') p.out(`${JSON.stringify({ group: group.name, plans }, null, 2)}\n`);
  else
    for (const [name, plan] of Object.entries(plans))
      p.out(`group ${group.name}, member ${name}:\n${formatPlan(plan)}\n\n`);
  return EXIT.ok;
}

export async function groupCommand(
  cmd: 'run' | 'status' | 'promote' | 'abort' | 'retry' | 'pause' | 'resume',
  group: LoadedGroup,
  options: GroupCommandOptions,
  p: Printer,
): Promise<ExitCode> {
  const wire = (m: LoadedGroup['members'][number], hooks?: Parameters<typeof wireRollout>[1]['hooks']) =>
    wireRollout(m.loaded, {
      kubeConfig: options.kubeConfig,
      clock: options.clock,
      ...(options.leaseDuration ? { leaseDuration: options.leaseDuration } : {}),
      ...(hooks ? { hooks } : {}),
    });
  if (cmd === 'run') {
    const made = createRolloutGroup({
      name: group.name,
      members: group.members.map((m) => ({ name: m.name, create: (hooks) => wire(m, hooks) })),
    });
    for (const [name, rollout] of Object.entries(made.members))
      printProgress(rollout, prefixed(p, name), () => options.clock.now());
    made.on('abort', ({ member, reason }) =>
      p.out(`${paint(p, 31, 'GROUP ABORT')} ${member}: ${reason}; every member rolls back\n`),
    );
    const interrupted = new Promise<'interrupted'>((resolve) => {
      if (options.signal?.aborted) resolve('interrupted');
      options.signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
    });
    const work = made.run();
    const outcome = await Promise.race([work, interrupted]);
    if (outcome === 'interrupted') {
      work.catch(() => undefined);
      await Promise.all(Object.values(made.members).map((r) => r.close()));
      p.err("kanary: stopped driving the group; the members' states are saved: `kanary run` resumes\n");
      return EXIT.interrupted;
    }
    for (const [name, state] of Object.entries(outcome))
      p.out(`${paint(p, state.phase === 'succeeded' ? 32 : 31, `${name}: ${outcomeLine(state)}`)}\n`);
    return Object.values(outcome).every((s) => s.phase === 'succeeded') ? EXIT.ok : EXIT.rolledBack;
  }
  const members: Array<[string, Rollout]> = group.members.map((m) => [m.name, wire(m)]);
  if (cmd === 'status') {
    const states = await Promise.all(members.map(async ([name, r]) => [name, await r.load(), r] as const));
    if (states.every(([, s]) => s.seq === 0)) {
      p.err(`kanary: group ${group.name} has not started; \`kanary run -f ${group.path}\` starts it\n`);
      return EXIT.notFound;
    }
    if (options.output === 'json')
      p.out(`${JSON.stringify(Object.fromEntries(states.map(([n, s]) => [n, s])), null, 2)}\n`);
    else
      for (const [name, state, r] of states)
        p.out(`member ${name}:\n${formatStatus(state, r.plan(), options.clock.now())}`);
    return EXIT.ok;
  }
  // Controls go to every member; the group's driver keeps them in step.
  let code: ExitCode = EXIT.ok;
  for (const [name, r] of members) {
    try {
      const after =
        cmd === 'promote'
          ? await (options.full ? r.promoteFull() : r.promote())
          : cmd === 'abort'
            ? await r.abort(options.reason ?? 'aborted with kanary abort (group)')
            : cmd === 'retry'
              ? await r.retry()
              : cmd === 'pause'
                ? await r.pause()
                : await r.resume();
      p.out(`${name}: ${cmd} recorded (${after.phase})\n`);
    } catch (error) {
      p.err(`kanary: ${name}: ${(error as Error).message}\n`);
      code = EXIT.refused;
    }
  }
  return code;
}
