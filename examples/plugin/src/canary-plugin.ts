// Kanary as a plugin of another tool: it uses the host's KubeConfig (so the host's auth and
// context apply), reports through the host's logger, and turns the host's cancellation into
// abort() so a cancelled job never leaves a release half rolled out.
import { createKubernetesRollout, isKanaryError } from '@kanary/core';
import { definePlugin } from './host.ts';

export interface CanaryInput {
  namespace: string;
  deployment: string;
  service: string;
  image: string;
  /** Replica-ratio steps: no mesh needed. */
  weights: number[];
}

export const canaryPlugin = definePlugin({
  name: 'kanary-canary',
  async run(ctx, input: CanaryInput) {
    const rollout = createKubernetesRollout({
      spec: {
        name: input.deployment,
        namespace: input.namespace,
        target: { name: input.deployment, service: input.service },
        update: { image: input.image },
        strategy: { type: 'replicaRatio' },
        steps: input.weights.flatMap((w) => [{ setWeight: w }, { pause: { duration: '200ms' } }]),
        scaleDownDelay: '0s',
        abortScaleDownDelay: '0s',
      },
      kubeConfig: ctx.kubeConfig,
      pollInterval: '100ms',
      holder: `plugin-${process.pid}`,
    });
    rollout.on('step', ({ step }) => ctx.log.info('kanary step', { step: step.title }));
    rollout.on('warning', ({ message }) => ctx.log.warn('kanary warning', { message }));
    const onCancel = () => void rollout.abort('cancelled by the host').catch(() => undefined);
    ctx.signal.addEventListener('abort', onCancel, { once: true });
    try {
      const final = await rollout.run();
      ctx.log.info('kanary done', { phase: final.phase });
      return { phase: final.phase, abort: final.abort?.reason };
    } catch (error) {
      if (isKanaryError(error)) ctx.log.warn('kanary refused', { code: error.code, message: error.message });
      throw error;
    } finally {
      ctx.signal.removeEventListener('abort', onCancel);
    }
  },
});
