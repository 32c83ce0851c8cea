import type { KanaryIssue } from '../errors/kanary-error.ts';
import type { PortContext } from '../ports/context.ts';

// The validation findings every router that routes between two Services reports the same way.

/** An object the router's options name is not there (`path`: the option naming it). */
export function missingObjectIssue(path: string, kind: string, namespace: string, name: string): KanaryIssue {
  return {
    path,
    message: `${kind} ${namespace}/${name} does not exist`,
    hint: 'create it, or fix the name',
    severity: 'error',
  };
}

/** The spec names no stable Service, which a router splitting between two Services needs. */
export function stableServiceIssue(ctx: PortContext, router: string): KanaryIssue[] {
  return ctx.spec.target.service
    ? []
    : [
        {
          path: 'target.service',
          message: `the ${router} router needs the stable Service`,
          hint: 'set target.service',
          severity: 'error',
        },
      ];
}
