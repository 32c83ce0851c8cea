/** What an in-memory port was asked to do, in order: tests compare these sequences. */
export interface JournalEntry {
  port: 'router' | 'workload' | 'gate';
  method: string;
  args: unknown[];
}

export type Journal = JournalEntry[];

/** Per-method fault injection for in-memory ports: return an error to throw it. */
export type FaultFn = (method: string, args: unknown[]) => Error | undefined;
