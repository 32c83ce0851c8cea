// @kanary/cli — the `kanary` command, also callable in-process (`main`) by tools that embed it.

export type { Agent, AgentEvents, AgentOptions, OrphanPolicy } from './agent/agent.ts';
export { createAgent } from './agent/agent.ts';
export type { Credentials, RebuildOptions } from './agent/rebuild.ts';
export { rebuildRollout, routerFromWiring } from './agent/rebuild.ts';
export type { ExitCode } from './exit-codes.ts';
export { EXIT, exitCodeFor } from './exit-codes.ts';
export type { LoadedFile } from './file/load.ts';
export { loadKanaryFile, parseKanaryFile } from './file/load.ts';
export type { HttpConfig, KanaryFile, RouterConfig } from './file/schema.ts';
export { KanaryFileSchema, kanaryFileJsonSchema, RouterSchema } from './file/schema.ts';
export type { CliIo } from './main.ts';
export { main, USAGE } from './main.ts';
export { formatStatus } from './output/status.ts';
export type { ClusterOptions, WireOptions } from './wiring.ts';
export { loadKubeConfig, wireRollout } from './wiring.ts';
