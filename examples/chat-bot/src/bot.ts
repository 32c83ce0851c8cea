// A chat bot's back end: `/canary start|promote|abort|status <app>` from a slash command or
// plain HTTP, with the rollout's events posted back to the channel's webhook.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  awaitingDecision,
  createKubeClient,
  createKubernetesRollout,
  formatDuration,
  isKanaryError,
  type Rollout,
  type RolloutSpecInput,
  type RolloutState,
  type TrafficRouter,
} from '@kanary/core';
import type { KubeConfig } from '@kubernetes/client-node';

export interface App {
  /** The rollout spec for a new image of this app. */
  spec(image: string): RolloutSpecInput;
  router?(kubeConfig: KubeConfig): TrafficRouter;
}

export interface BotOptions {
  kubeConfig: KubeConfig;
  apps: Record<string, App>;
  /** Posts a message to the channel (e.g. a Slack or Feishu incoming webhook). */
  notify(text: string): Promise<void> | void;
}

interface Running {
  rollout: Rollout;
  image: string;
  done: Promise<RolloutState>;
}

export function createBot(options: BotOptions) {
  const running = new Map<string, Running>();
  const say = (text: string) => Promise.resolve(options.notify(text)).catch(() => undefined);

  function start(app: string, image: string): Running {
    const def = options.apps[app];
    if (!def) throw new BotError(404, `no app "${app}"; known: ${Object.keys(options.apps).join(', ')}`);
    const current = running.get(app);
    if (current && !current.rollout.state?.finishedAt)
      throw new BotError(409, `${app} is already rolling out ${current.image}; promote or abort it first`);
    const rollout = createKubernetesRollout({
      spec: def.spec(image),
      client: createKubeClient({ kubeConfig: options.kubeConfig }),
      ...(def.router ? { router: def.router(options.kubeConfig) } : {}),
      pollInterval: '200ms',
      syncInterval: '200ms',
    });
    const steps = rollout.plan().steps.length;
    rollout.on('step', ({ index, step }) => say(`${app}: step ${index + 1}/${steps} — ${step.title}`));
    rollout.on('state', (s) => {
      if (awaitingDecision(s))
        void say(
          `${app}: paused at ${s.weights.canary}% — reply \`/canary promote ${app}\` or \`/canary abort ${app}\``,
        );
    });
    rollout.on('abort', ({ reason, cause }) => say(`${app}: rolling back (${cause}): ${reason}`));
    const done = rollout.run().then(
      (s) => {
        const took = s.finishedAt && s.startedAt ? ` in ${formatDuration(s.finishedAt - s.startedAt)}` : '';
        void say(
          s.phase === 'succeeded'
            ? `${app}: ${image} promoted${took} ✅`
            : `${app}: ${image} rolled back${took} ❌`,
        );
        return s;
      },
      (error: unknown) => {
        void say(`${app}: stopped with an error: ${(error as Error).message}`);
        throw error;
      },
    );
    done.catch(() => undefined);
    const r = { rollout, image, done };
    running.set(app, r);
    return r;
  }

  const find = (app: string) => {
    const r = running.get(app);
    if (!r) throw new BotError(404, `${app} has no rollout in progress; \`/canary start ${app} <image>\``);
    return r;
  };

  function report(app: string) {
    const r = find(app);
    const s = r.rollout.state;
    const plan = r.rollout.plan();
    const step = s?.cursor.section === 'steps' ? plan.steps[s.cursor.step]?.title : s?.cursor.section;
    return {
      app,
      image: r.image,
      phase: s?.phase ?? 'pending',
      step,
      canaryWeight: s?.weights.canary ?? 0,
      ...(s?.abort ? { abort: s.abort.reason } : {}),
      text: `${app} ${r.image}: ${s?.phase ?? 'pending'}${step ? ` at "${step}"` : ''}, canary ${s?.weights.canary ?? 0}%`,
    };
  }

  async function command(verb: string, app: string, arg?: string): Promise<unknown> {
    switch (verb) {
      case 'start': {
        if (!arg) throw new BotError(400, 'usage: /canary start <app> <image>');
        const r = start(app, arg);
        return { started: app, image: r.image, steps: r.rollout.plan().steps.map((s) => s.title) };
      }
      case 'promote':
        return { app, phase: (await find(app).rollout.promote()).phase };
      case 'abort':
        return { app, phase: (await find(app).rollout.abort(arg ?? 'aborted from chat')).phase };
      case 'status':
        return report(app);
      default:
        throw new BotError(400, `unknown command "${verb}"; use start, promote, abort or status`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://bot');
    const body = await readBody(req);
    try {
      // Slash command (form-encoded `text=promote shop`) or REST (`POST /canary/shop/promote`).
      if (url.pathname === '/slash') {
        const text = new URLSearchParams(body).get('text') ?? '';
        const [verb = '', app = '', ...rest] = text.trim().split(/\s+/);
        return json(res, 200, await command(verb, app, rest.join(' ') || undefined));
      }
      const m = /^\/canary\/([\w.-]+)(?:\/(start|promote|abort))?$/.exec(url.pathname);
      if (!m) return json(res, 404, { error: 'not found' });
      const [, app = '', verb] = m;
      if (!verb && req.method === 'GET') return json(res, 200, report(app));
      const input = body ? (JSON.parse(body) as { image?: string; reason?: string }) : {};
      return json(
        res,
        verb === 'start' ? 202 : 200,
        await command(verb ?? '', app, input.image ?? input.reason),
      );
    } catch (error) {
      if (error instanceof BotError) return json(res, error.status, { error: error.message });
      if (isKanaryError(error)) return json(res, 409, { error: error.message, code: error.code });
      return json(res, 500, { error: String(error) });
    }
  }

  return {
    /** Serves the bot on a loopback port. */
    async listen(port = 0): Promise<{ url: string; server: Server }> {
      const server = createServer((req, res) => void handle(req, res));
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      const address = server.address() as { port: number };
      return { url: `http://127.0.0.1:${address.port}`, server };
    },
    /** Waits for an app's current rollout to end. */
    finished: (app: string) => find(app).done,
  };
}

class BotError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, value: unknown) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
