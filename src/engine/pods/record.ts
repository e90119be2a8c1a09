// A pod's record and what is derived from it: its containers (each names the pod in its
// config), whether its infra (pause) process runs, and the summary `pod ps` shows.
import path from "node:path";
import { conflict, notFound } from "../../errors.js";
import { processAlive } from "../../sys/index.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow, PodRow } from "../db.js";
import type { PortMapping } from "../networks.js";
import type { HostConfig } from "../options.js";
import { refresh } from "../containers/cleanup.js";

/** The namespaces a pod's containers may share with its infra process (Podman's --share). */
export const SHAREABLE = ["net", "ipc", "uts", "pid"] as const;
export type Shared = (typeof SHAREABLE)[number];

/** The checked options of a pod, as stored with it. */
export interface PodConfig {
  share: Shared[];
  /** none, host, or a berth network's name (its one CNI attachment, keyed by the pod's ID) */
  network: string;
  ports: PortMapping[];
  hostname: string;
  labels: Record<string, string>;
}

export interface PodContainer {
  id: string;
  name: string;
  state: ContainerRow["state"];
}

export interface PodSummary {
  id: string;
  name: string;
  /** Created (never started), Running, Degraded (infra up, some containers not), Exited */
  status: "Created" | "Running" | "Degraded" | "Exited";
  created: string;
  /** the pause process, 0 when it does not run */
  infraPid: number;
  share: Shared[];
  network: string;
  hostname: string;
  ports: PortMapping[];
  labels: Record<string, string>;
  containers: PodContainer[];
}

/** A pod by name, full ID or unique ID prefix. */
export function lookupPod(ctx: EngineContext, ref: string): PodRow {
  const byName = ctx.db.podByName(ref);
  if (byName) return byName;
  if (/^[0-9a-f]+$/.test(ref)) {
    const found = ctx.db.pods().filter((p) => p.id.startsWith(ref));
    if (found.length === 1) return found[0]!;
    if (found.length > 1) throw conflict(`multiple pods found with ID prefix ${ref}: ${found.map((p) => p.id.slice(0, 12)).join(", ")}`);
  }
  throw notFound(`no such pod: ${ref}`);
}

export function podConfig(pod: PodRow): PodConfig {
  return JSON.parse(pod.config) as PodConfig;
}

/** The pod's containers, oldest first, as they really are (a dead one's record refreshed). */
export function podContainers(ctx: EngineContext, podId: string): ContainerRow[] {
  return ctx.db
    .containers()
    .filter((c) => (JSON.parse(c.config) as HostConfig).pod === podId)
    .map((c) => refresh(ctx, c))
    .filter((c): c is ContainerRow => c !== undefined)
    .reverse();
}

/** Whether the pause process recorded for the pod still runs (the same process, not a later one with its pid). */
export function infraRunning(pod: PodRow): boolean {
  return pod.infraPid > 0 && processAlive(pod.infraPid, pod.infraStart ?? undefined);
}

/** <runroot>/pods/<id>: the pod's hosts, hostname and resolv.conf, bound into its containers. */
export function podRunDir(ctx: EngineContext, id: string): string {
  return path.join(ctx.runroot, "pods", id);
}

export function podSummary(ctx: EngineContext, pod: PodRow): PodSummary {
  const c = podConfig(pod);
  const containers = podContainers(ctx, pod.id);
  const up = infraRunning(pod);
  const live = containers.filter((x) => x.state === "running" || x.state === "paused").length;
  const status = up ? (live === containers.length ? "Running" : "Degraded") : pod.startedAt || live ? "Exited" : "Created";
  return {
    id: pod.id,
    name: pod.name,
    status,
    created: pod.created,
    infraPid: up ? pod.infraPid : 0,
    share: c.share,
    network: c.network,
    hostname: c.hostname,
    ports: c.ports,
    labels: c.labels,
    containers: containers.map((x) => ({ id: x.id, name: x.name, state: x.state })),
  };
}
