// pod create: a pod's record; nothing runs until its first container starts (or `pod start`).
import { randomBytes } from "node:crypto";
import { invalidArgument } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { PodRow } from "../db.js";
import { checkPorts, getNetwork, type PortMapping } from "../networks.js";
import { clash, parsePublish } from "../ports.js";
import { SHAREABLE, type PodConfig, type Shared } from "./record.js";
import { isRootless } from "../../sys/index.js";

export interface PodCreateOptions {
  name?: string;
  /** `-p [ip:]hostPort:containerPort[/proto]`: published on the pod's network namespace */
  publish?: string[];
  /** none, host, or a network's name (default: the default bridge network as root, else none) */
  network?: string;
  /** the namespaces its containers share (default net, ipc, uts, as Podman's) */
  share?: string[];
  /** its host name when it shares uts (default: its name) */
  hostname?: string;
  labels?: Record<string, string>;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export async function podCreate(ctx: EngineContext, o: PodCreateOptions): Promise<PodRow> {
  const id = randomBytes(32).toString("hex");
  const name = o.name ?? `pod_${id.slice(0, 12)}`;
  if (!NAME.test(name) || name.length > 128) throw invalidArgument(`invalid pod name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const share = [...new Set((o.share ?? ["net", "ipc", "uts"]).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean))];
  for (const s of share) if (!(SHAREABLE as readonly string[]).includes(s)) throw invalidArgument(`--share ${JSON.stringify(s)}: expected a list of ${SHAREABLE.join(", ")}`);
  const ports: PortMapping[] = (o.publish ?? []).flatMap(parsePublish);
  for (const [i, p] of ports.entries()) if (ports.slice(0, i).some((q) => clash(p, q))) throw invalidArgument(`-p: host port ${p.hostPort}/${p.protocol} is published twice`);
  if (!share.includes("net") && (o.network !== undefined || ports.length)) throw invalidArgument(`${ports.length ? "-p" : "--network"}: the pod does not share net (--share ${share.join(",")}), so it has no network of its own`);
  let network = o.network ?? (ports.length || !isRootless() ? "bridge" : "none");
  if (!share.includes("net")) network = "none";
  if (ports.length && (network === "none" || network === "host")) throw invalidArgument(`-p: published ports need a network, not --network ${network}`);
  if (network !== "none" && network !== "host") network = getNetwork(ctx, network).name; // an unknown one is refused
  const hostname = o.hostname ?? name;
  if (o.hostname !== undefined && !share.includes("uts")) throw invalidArgument("--hostname: the pod does not share uts, so it has no host name of its own");
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,62})$/.test(hostname)) throw invalidArgument(`--hostname ${JSON.stringify(hostname)}: expected a host name`);
  await checkPorts(ctx, ports); // a port already taken is refused before anything is made
  const config: PodConfig = { share: share as Shared[], network, ports, hostname, labels: o.labels ?? {} };
  const row: PodRow = { id, name, created: new Date().toISOString(), config: JSON.stringify(config), infraPid: 0, infraStart: null, startedAt: null };
  ctx.db.insertPod(row); // a name in use is refused here
  return row;
}
