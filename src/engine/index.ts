// The engine: containers, volumes and images, daemonless (DESIGN.md, engine/).
export { Engine } from "./engine.js";
export type { ContainerOptions, ContainerSummary, LogEntry, LogOptions, ExecOptions, Volume, EngineOptions } from "./engine.js";
export { CommandError } from "./containers/start.js";
export type { AttachOptions, Attachment } from "./engine.js";
export { parseDetachKeys } from "./containers/attach.js";
export { parseBytes } from "./options.js";
export { humanDuration } from "./human.js";
export { defaultRoot, defaultRunroot } from "./context.js";
export type { CopyOptions, FsChange, CommitOptions } from "./engine.js";
export type { ContainerTop, ContainerStats, StatsOptions, ContainerSize } from "./engine.js";
export type { Network, NetworkCreateOptions, PortMapping } from "./engine.js";
export type { ConnectOptions } from "./containers/connect.js";
export type { PullOptions, PullResult, PushOptions, PushResult } from "./engine.js";
export type { PodCreateOptions, PodSummary, PodLogEntry } from "./engine.js";
export { userNamespacePlan, subordinateRange, SUBID_MINIMUM, delegatedCgroup, rootlessCgroup, type DelegatedCgroup } from "./rootless.js";
export { berthBin } from "./context.js";
