import type { z } from 'zod';
import { formatIssues, KanaryError, type KanaryIssue } from '../errors/kanary-error.ts';
import { createKubeClient, type KubeClient, type KubeClientOptions } from '../kubernetes/client.ts';

/** How a router reaches the cluster: a client to share (a KubeClient from @kanary/core), or a KubeConfig to make one. */
export interface RouterClientOptions {
  client?: KubeClient;
  kubeConfig?: KubeClientOptions['kubeConfig'];
}

/**
 * A router's options checked against the schema its package exports (the client and kubeConfig
 * aside: they are objects, not configuration), so a mistake is refused where the router is made,
 * naming the field, before anything is written. The same schema checks a kanary file's router.
 */
export function parseRouterOptions<S extends z.ZodType>(
  router: string,
  schema: S,
  options: object,
): z.output<S> {
  const { client: _client, kubeConfig: _kubeConfig, ...config } = options as Record<string, unknown>;
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const issues: KanaryIssue[] = result.error.issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message,
    severity: 'error',
  }));
  throw new KanaryError('INVALID_SPEC', `${router} router options are not valid:\n${formatIssues(issues)}`, {
    issues,
  });
}

/** The client a router was given, or one made from its kubeConfig (or the default kubeconfig). */
export function routerClient(options: RouterClientOptions): KubeClient {
  return options.client ?? createKubeClient(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {});
}
