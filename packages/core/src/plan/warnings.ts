import type { KanaryIssue } from '../errors/kanary-error.ts';
import { isInternal } from '../security/addresses.ts';
import type { AnalysisSpec } from '../spec/analysis.ts';
import type { RolloutSpec } from '../spec/rollout-spec.ts';
import { analysesOf, type Plan } from './actions.ts';

const warning = (path: string, message: string, hint: string): KanaryIssue => ({
  path,
  message,
  hint,
  severity: 'warning',
});

/** Why an analysis can never fail the release, or undefined when it can. */
function cannotFail(analysis: AnalysisSpec): string | undefined {
  const metrics = analysis.metrics;
  if (metrics.length === 0) return undefined;
  if (metrics.every((m) => m.dryRun)) return 'every metric is dryRun';
  if (metrics.every((m) => m.dryRun || m.failureLimit === -1))
    return 'every metric is dryRun or has failureLimit -1, so no measured value can fail it (only errors can)';
  return undefined;
}

/**
 * What a legal spec does that a reviewer should see before it runs: returned by `plan()` and
 * printed by `kanary plan`. None of these stops a release; each has been someone's accident.
 */
export function planWarnings(spec: RolloutSpec, plan: Plan): KanaryIssue[] {
  const out: KanaryIssue[] = [];
  const type = spec.strategy.type;
  if ((type === 'weighted' || type === 'replicaRatio' || type === 'rolling') && spec.steps.length === 0)
    out.push(
      warning(
        'steps',
        `is empty: the ${type === 'rolling' ? 'update reaches every pod' : 'canary takes every user'} in one move, with nothing checked before`,
        'add steps, e.g. [{ setWeight: 10 }, { pause: { duration: "5m" } }, { analysis: … }]',
      ),
    );

  // Weights: back up after going down, and anything after 100%.
  let lowest: { weight: number; index: number } | undefined;
  let previous: number | undefined;
  let full: number | undefined;
  spec.steps.forEach((step, i) => {
    if (full !== undefined && i === full + 1)
      out.push(
        warning(
          `steps[${i}]`,
          `comes after steps[${full}] sent every user to the canary: from there on, a failure rolls all of them back`,
          'end the steps at 100%, or keep the weight below 100% until the last check',
        ),
      );
    if (!('setWeight' in step)) return;
    const w = step.setWeight;
    if (previous !== undefined && w < previous && (lowest === undefined || w < lowest.weight))
      lowest = { weight: w, index: i };
    else if (lowest !== undefined && previous !== undefined && w > previous) {
      out.push(
        warning(
          `steps[${i}].setWeight`,
          `raises the weight to ${w}% after steps[${lowest.index}] lowered it to ${lowest.weight}%: users move back and forth between versions`,
          'make the weights rise step by step; to go back, abort and start again',
        ),
      );
      lowest = undefined;
    }
    if (w === 100 && full === undefined) full = i;
    previous = w;
  });

  for (const { path, analysis } of analysesOf(plan)) {
    const why = cannotFail(analysis);
    if (why)
      out.push(
        warning(
          path,
          `can never fail the release: ${why}`,
          'fine for a trial run; to gate the release, make one metric count (dryRun: false, failureLimit ≥ 0)',
        ),
      );
  }

  spec.hooks.forEach((hook, i) => {
    let host: string;
    try {
      host = new URL(hook.url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    } catch {
      return;
    }
    if (isInternal(host))
      out.push(
        warning(
          `hooks[${i}].url`,
          `calls ${host}, an address inside the cluster or on this machine: whoever may write specs can make Kanary call it`,
          'fine for an in-cluster gate; to accept only known hosts, createRollout({ webhooks: { allowHosts: [...] } })',
        ),
      );
  });
  return out;
}
