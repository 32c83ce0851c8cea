// @kanary/core/testing — in-memory ports and doubles for testing code that drives rollouts: a
// virtual clock, a workload, a router, a state store, a lock and a scripted analysis, each with a
// journal of what was done to it. None of it talks to a cluster.

export { currentAction } from './engine/reducer.ts';
export { initialState } from './engine/state.ts';
export type { ScriptedGateOptions, ScriptedVerdict } from './memory/gate.ts';
export { createScriptedGate } from './memory/gate.ts';
export type { FaultFn, Journal, JournalEntry } from './memory/journal.ts';
export { createMemoryLeaseBackend, createMemoryLock } from './memory/lock.ts';
export type { MemoryRouter, MemoryRouterOptions } from './memory/router.ts';
export { createMemoryRouter, FULL_CAPABILITIES } from './memory/router.ts';
export type { MemoryStateStore } from './memory/store.ts';
export { createMemoryStateStore } from './memory/store.ts';
export type { MemoryWorkload, MemoryWorkloadOptions } from './memory/workload.ts';
export { createMemoryWorkload } from './memory/workload.ts';
export type { VirtualClock } from './ports/clock.ts';
export { createVirtualClock, flushAsync } from './ports/clock.ts';
