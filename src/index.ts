// berth as a library: `import { Engine } from "berth"` for containers, volumes and images;
// the OCI runtime's verbs and the image store are available in-process too.
export * as runtime from "./runtime/index.js";
export * as oci from "./oci/index.js";
export * as image from "./image/index.js";
export { Engine, CommandError } from "./engine/index.js";
export type { ContainerOptions, ContainerSummary, LogEntry, LogOptions, ExecOptions, Volume, EngineOptions } from "./engine/index.js";
export type { AttachOptions, Attachment } from "./engine/index.js";
export type { ContainerTop, ContainerStats, StatsOptions, ContainerSize } from "./engine/index.js";
export type { Network, NetworkCreateOptions, PortMapping } from "./engine/index.js";
export * as network from "./network/index.js";
export { cgroupManager, detectCgroupMode } from "./cgroups/index.js";
export type { CgroupManager, CgroupMode } from "./cgroups/index.js";
export { BerthError, type ErrorKind } from "./errors.js";
export type { BuildOptions, BuildEvent, BuildResult } from "./build/index.js";
export * as registryClient from "./registry/client/index.js";
export type { PodCreateOptions, PodSummary, PodLogEntry } from "./engine/index.js";
