// A container in a pod: at create, the pod it names (its ID) and the pod's host name when it
// shares uts; at start, the infra's namespaces to join by path and the pod's /etc files.
import path from "node:path";
import { invalidArgument } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { containerNetns, netnsPath } from "../networks.js";
import type { HostConfig } from "../options.js";
import { startInfra } from "./infra.js";
import { lookupPod, podConfig, podRunDir } from "./record.js";

/** At create: `h.pod` (a name or ID) becomes the pod's ID; a missing pod is refused. */
export function joinPodConfig(ctx: EngineContext, h: HostConfig): void {
  const pod = lookupPod(ctx, h.pod!);
  const c = podConfig(pod);
  if (c.share.includes("uts")) {
    if (h.hostname !== undefined && h.hostname !== c.hostname) throw invalidArgument(`conflicting options: --hostname and --pod ${pod.name} (it shares its host name, ${c.hostname}: set it with pod create --hostname)`);
    h.hostname = c.hostname;
  }
  h.pod = pod.id;
}

export interface PodJoin {
  /** the network namespace to join (absent when the pod does not share net) */
  netns?: string;
  hosts: string;
  resolvConf: string;
  /** namespace paths by OCI type (network, ipc, uts, pid) */
  namespaces: Record<string, string>;
}

/** At start: the pod's infra, started if it does not run, and what the container joins of it. */
export async function joinPod(ctx: EngineContext, podId: string): Promise<PodJoin> {
  const pod = await startInfra(ctx, podId);
  const c = podConfig(pod);
  const proc = (ns: string) => `/proc/${pod.infraPid}/ns/${ns}`;
  const namespaces: Record<string, string> = {};
  if (c.share.includes("net")) namespaces.network = c.network === "host" ? proc("net") : netnsPath(containerNetns(pod.id));
  if (c.share.includes("ipc")) namespaces.ipc = proc("ipc");
  if (c.share.includes("uts")) namespaces.uts = proc("uts");
  if (c.share.includes("pid")) namespaces.pid = proc("pid");
  const dir = podRunDir(ctx, pod.id);
  return { netns: namespaces.network, hosts: path.join(dir, "hosts"), resolvConf: path.join(dir, "resolv.conf"), namespaces };
}
