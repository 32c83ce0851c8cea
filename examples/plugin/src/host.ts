// A stand-in for another tool's plugin API (a deploy CLI, an IDP backend, a CI runner): the host
// owns the cluster connection, the logger and cancellation, and hands them to each plugin.
import type { KubeConfig } from '@kubernetes/client-node';

export interface HostContext {
  /** The host's own KubeConfig: its credentials, context and proxies, not ~/.kube/config. */
  kubeConfig: KubeConfig;
  log: {
    info(msg: string, fields?: Record<string, unknown>): void;
    warn(msg: string, fields?: Record<string, unknown>): void;
  };
  /** Cancelled when the host's user cancels the job. */
  signal: AbortSignal;
}

export interface Plugin<Input, Output> {
  name: string;
  run(ctx: HostContext, input: Input): Promise<Output>;
}

export const definePlugin = <I, O>(plugin: Plugin<I, O>) => plugin;
