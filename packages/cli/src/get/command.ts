import {
  type Clock,
  createKubeClient,
  isRetiring,
  isStopped,
  type KubeClient,
  type RolloutKey,
} from '@kanary/core';
import type { KubeConfig } from '@kubernetes/client-node';
import { EXIT, type ExitCode } from '../exit-codes.ts';
import type { Printer } from '../output/progress.ts';
import { createLooker, type Look } from './look.ts';
import { renderLook, type Target } from './render.ts';

/** Key presses in a terminal: `d` shows the judges' numbers, `q` quits. */
export interface Keys {
  on(event: 'data', listener: (data: Buffer | string) => void): unknown;
  off(event: 'data', listener: (data: Buffer | string) => void): unknown;
  setRawMode?(raw: boolean): unknown;
  resume?(): unknown;
  pause?(): unknown;
}

export interface GetOptions {
  key: RolloutKey;
  target: Target;
  kubeConfig: KubeConfig;
  clock: Clock;
  watch: boolean;
  output: string;
  /** Between looks while watching (ms). */
  intervalMs: number;
  /** Stop watching after this long (ms): exit 6. */
  timeoutMs?: number;
  /** Redraw in place (a terminal) rather than print a block per change (CI logs). */
  tty: boolean;
  keys?: Keys;
  signal?: AbortSignal;
}

const CLEAR = '\u001b[H\u001b[2J';

/**
 * `kanary get NAME [-w]`. Without -w: one look. With -w: looks every interval until the release
 * has ended (exit 0 promoted, 1 rolled back or failed), Ctrl-C (130) or --timeout (6); on a
 * terminal the view is redrawn in place, elsewhere a block is printed whenever something changed.
 */
export async function getCommand(options: GetOptions, p: Printer): Promise<ExitCode> {
  const { key, clock } = options;
  const client: KubeClient = createKubeClient({ kubeConfig: options.kubeConfig, watch: false, clock });
  const looker = createLooker(key, client, clock);
  let details = false;
  let quit = false;
  const wake = new AbortController();
  const onKey = (data: Buffer | string) => {
    const k = String(data);
    if (k === 'd') details = !details;
    if (k === 'q' || k === '\u0003') {
      quit = true;
      wake.abort();
    }
    draw?.();
  };
  let draw: (() => void) | undefined;
  const watchKeys = options.watch && options.tty && options.keys;
  if (watchKeys) {
    options.keys?.setRawMode?.(true);
    options.keys?.resume?.();
    options.keys?.on('data', onKey);
  }
  try {
    const first = await looker.look();
    if (!first) {
      p.err(
        `kanary: no rollout ${key.namespace}/${key.name} (no ConfigMap kanary-${key.name} in ${key.namespace})\n`,
      );
      return EXIT.notFound;
    }
    if (!options.watch) {
      p.out(
        options.output === 'json'
          ? `${JSON.stringify(first, null, 2)}\n`
          : renderLook(first, { target: options.target, details }),
      );
      return EXIT.ok;
    }
    const until = options.timeoutMs !== undefined ? clock.now() + options.timeoutMs : undefined;
    let look: Look = first;
    let printed: string | undefined;
    draw = () => {
      if (options.output === 'json') {
        p.out(`${JSON.stringify(look)}\n`);
        return;
      }
      const text = renderLook(look, { target: options.target, details, relative: options.tty });
      if (options.tty) {
        const footer = `\n${new Date(look.at).toISOString()} · every ${Math.round(options.intervalMs / 1000)}s · d: ${details ? 'hide' : 'show'} the numbers · q: quit\n`;
        p.out(`${CLEAR}${text}${footer}`);
        return;
      }
      // In a log: a block only when it says something new (its times are absolute).
      if (text === printed) return;
      printed = text;
      p.out(`--- ${new Date(look.at).toISOString()}\n${text}`);
    };
    for (;;) {
      draw();
      const s = look.state;
      if (isStopped(s) && !isRetiring(s)) return s.phase === 'succeeded' ? EXIT.ok : EXIT.rolledBack;
      if (quit || options.signal?.aborted) return EXIT.interrupted;
      if (until !== undefined && clock.now() >= until) {
        p.err(`kanary: still ${s.phase} after the --timeout\n`);
        return EXIT.timeout;
      }
      const signal = options.signal ? AbortSignal.any([options.signal, wake.signal]) : wake.signal;
      await clock
        .sleep(
          until === undefined
            ? options.intervalMs
            : Math.max(1, Math.min(options.intervalMs, until - clock.now())),
          signal,
        )
        .catch(() => undefined);
      if (quit || options.signal?.aborted) return EXIT.interrupted;
      look = (await looker.look()) ?? look;
    }
  } finally {
    if (watchKeys) {
      options.keys?.off('data', onKey);
      options.keys?.setRawMode?.(false);
      options.keys?.pause?.();
    }
    await client.close();
  }
}
