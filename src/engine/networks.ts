// Networks: records in berth.db and the .conflist berth writes for each under <root>/networks,
// run through the CNI runtime (src/network). A container on a network gets a named netns
// (`ip netns` shows berth-<id12>) that it joins by path; its attachments are cached under
// <root>/networks/cache, so DEL runs even after a crash, from whichever berth comes next.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { conflict, invalidArgument, notFound } from "../errors.js";
import {
  bridgeConfList,
  CniRuntime,
  contains,
  createNetns,
  DEFAULT_PLUGIN_DIRS,
  deleteNetns,
  firstHost,
  formatIp,
  formatSubnet,
  hostRoutes,
  netnsPath,
  overlaps,
  parseIp,
  parseSubnet,
  type CniResult,
  type NetConfList,
  type Subnet,
  CNI_VERSION,
  dropContainerRules,
  dropEmptyChains,
  isolateBridges,
} from "../network/index.js";
import { defaultRoot, type EngineContext } from "./context.js";
import type { NetworkRow } from "./db.js";
import { checkPortFree, clash, freeHostPort } from "./ports.js";
import { processAlive } from "../sys/index.js";
import { withLock } from "../image/lock.js";

/** Docker's default network is "bridge"; berth's is this one (bridge berth0 for the default --root). */
export const DEFAULT_NETWORK = "berth";
export const DEFAULT_BRIDGE = "berth0";
/** Tried in order for the default network: podman's CNI bridge takes 10.88.0.0/16. */
const DEFAULT_SUBNETS = ["10.87.0.0/16", "10.86.0.0/16", "10.85.0.0/16", "172.30.0.0/16"];

export interface Network {
  name: string;
  id: string;
  driver: string;
  subnet: string;
  gateway: string;
  bridge: string;
  internal: boolean;
  created: string;
  labels: Record<string, string>;
  /** the .conflist berth wrote */
  configFile: string;
  /** driver options: for macvlan/ipvlan parent and mode (from the .conflist) */
  options: Record<string, string>;
}

export interface NetworkCreateOptions {
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  driver?: string;
  /** driver options (-o): macvlan/ipvlan take parent=, macvlan_mode=, ipvlan_mode= */
  options?: Record<string, string>;
  labels?: Record<string, string>;
}

function dir(ctx: EngineContext): string {
  return path.join(ctx.root, "networks");
}

export function ipamDir(ctx: EngineContext): string {
  return path.join(dir(ctx), "ipam");
}

function configFile(ctx: EngineContext, name: string): string {
  return path.join(dir(ctx), `${name}.conflist`);
}

export function cniRuntime(ctx: EngineContext): CniRuntime {
  const extra = (process.env.CNI_PATH ?? "").split(":").filter(Boolean);
  return new CniRuntime([...extra, ...DEFAULT_PLUGIN_DIRS], path.join(dir(ctx), "cache"));
}

function toNetwork(ctx: EngineContext, r: NetworkRow): Network {
  return { name: r.name, id: r.id, driver: r.driver, subnet: r.subnet, gateway: r.gateway, bridge: r.bridge, internal: r.internal === 1, created: r.created, labels: JSON.parse(r.labels), configFile: configFile(ctx, r.name), options: driverOptions(ctx, r) };
}

/** macvlan and ipvlan: Docker's drivers of those names, through the CNI plugins of those names. */
const LINK_DRIVERS: Record<string, { modeKey: string; modes: string[] }> = {
  macvlan: { modeKey: "macvlan_mode", modes: ["bridge", "private", "vepa", "passthru"] },
  ipvlan: { modeKey: "ipvlan_mode", modes: ["l2", "l3", "l3s"] },
};

/** A bridge network's conflist is made from its row; a macvlan/ipvlan one's is the file written at create. */
function confList(ctx: EngineContext, r: NetworkRow): NetConfList {
  if (r.driver !== "bridge") return JSON.parse(fs.readFileSync(configFile(ctx, r.name), "utf8")) as NetConfList;
  return bridgeConfList({ name: r.name, bridge: r.bridge, subnet: r.subnet, gateway: r.gateway, internal: r.internal === 1, ipamDir: ipamDir(ctx) });
}

function driverOptions(ctx: EngineContext, r: NetworkRow): Record<string, string> {
  if (r.driver === "bridge") return { "com.docker.network.bridge.name": r.bridge };
  const d = LINK_DRIVERS[r.driver];
  let p: { master?: string; mode?: string } = {};
  try {
    p = confList(ctx, r).plugins[0] as { master?: string; mode?: string };
  } catch {
    // the file is gone: no options to show
  }
  return { ...(p.master ? { parent: p.master } : {}), ...(d && p.mode ? { [d.modeKey]: p.mode } : {}) };
}

/** The conflist of a macvlan/ipvlan network; refuses a missing or unknown parent, an unknown mode or option. */
function linkConfList(ctx: EngineContext, name: string, driver: string, o: Record<string, string>, subnet: string, gateway: string, internal: boolean): NetConfList {
  const d = LINK_DRIVERS[driver]!;
  for (const k of Object.keys(o)) if (k !== "parent" && k !== d.modeKey) throw invalidArgument(`network driver ${driver}: unknown option ${k} (expected parent or ${d.modeKey})`);
  const parent = o.parent;
  if (!parent) throw invalidArgument(`network driver ${driver} needs -o parent=INTERFACE (a host interface)`);
  if (!/^[a-zA-Z0-9_.:@-]{1,15}$/.test(parent) || !fs.existsSync(`/sys/class/net/${parent}`)) throw invalidArgument(`-o parent=${parent}: no such host interface`);
  const mode = o[d.modeKey] ?? d.modes[0]!;
  if (!d.modes.includes(mode)) throw invalidArgument(`-o ${d.modeKey}=${mode}: expected one of ${d.modes.join(", ")}`);
  return {
    cniVersion: CNI_VERSION,
    name,
    plugins: [
      {
        type: driver,
        master: parent,
        mode,
        ipam: { type: "host-local", dataDir: ipamDir(ctx), ranges: [[{ subnet, gateway }]], routes: internal ? [] : [{ dst: "0.0.0.0/0" }] },
      },
      { type: "loopback" },
    ],
  };
}

/** Subnets in use: berth's networks (by name) and the host's routes (not through berth's bridges). */
function taken(ctx: EngineContext, parent?: string): { what: string; subnet: Subnet }[] {
  const nets = ctx.db.networks();
  const ours = new Set(nets.map((n) => n.subnet));
  return [
    ...nets.map((n) => ({ what: `network ${n.name} (${n.subnet})`, subnet: parseSubnet(n.subnet) })),
    ...hostRoutes(parent)
      .filter((s) => !ours.has(formatSubnet(s)))
      .map((s) => ({ what: `a host route (${formatSubnet(s)})`, subnet: s })),
  ];
}

function insert(ctx: EngineContext, name: string, o: NetworkCreateOptions, bridge: (id: string) => string, candidates: string[]): NetworkRow {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || name.length > 64) throw invalidArgument(`network name ${JSON.stringify(name)}: expected letters, digits, '_', '.' and '-'`);
  const driver = o.driver ?? "bridge";
  if (driver !== "bridge" && !LINK_DRIVERS[driver]) throw invalidArgument(`network driver ${JSON.stringify(driver)}: expected bridge, macvlan or ipvlan`);
  if (driver === "bridge" && Object.keys(o.options ?? {}).length) throw invalidArgument(`network driver bridge: unknown option ${Object.keys(o.options!)[0]}`);
  if (driver !== "bridge") linkConfList(ctx, name, driver, o.options ?? {}, "10.0.0.0/24", "10.0.0.1", false); // bad options: refused before anything
  const wanted = o.subnet === undefined ? undefined : parseSubnet(o.subnet);
  let gateway = o.gateway === undefined ? undefined : parseIp(o.gateway);
  if (o.gateway !== undefined && gateway === undefined) throw invalidArgument(`invalid gateway ${o.gateway}: expected an IPv4 address`);
  if (gateway !== undefined && !wanted) throw invalidArgument("--gateway needs --subnet");
  return ctx.db.exclusive(() => {
    if (ctx.db.network(name)) throw conflict(`network with name ${name} already exists`);
    // a macvlan/ipvlan network may take its parent's own subnet (as Docker's usually does)
    const used = taken(ctx, driver === "bridge" ? undefined : o.options?.parent);
    let subnet: Subnet | undefined;
    if (wanted) {
      const clash = used.find((u) => overlaps(u.subnet, wanted));
      if (clash) throw conflict(`invalid subnet ${formatSubnet(wanted)}: it overlaps ${clash.what}`);
      subnet = wanted;
    } else {
      subnet = candidates.map(parseSubnet).find((c) => !used.some((u) => overlaps(u.subnet, c)));
      if (!subnet) throw conflict(`network ${name}: no free subnet left among ${candidates[0]}…${candidates.at(-1)}; name one with --subnet`);
    }
    if (gateway !== undefined && (!contains(subnet, gateway) || gateway === subnet.base)) throw invalidArgument(`invalid gateway ${o.gateway}: not a host address of ${formatSubnet(subnet)}`);
    gateway ??= firstHost(subnet);
    const id = randomBytes(32).toString("hex");
    // a macvlan/ipvlan network has no bridge of its own (its parent is the host's)
    const row: NetworkRow = { name, id, driver, subnet: formatSubnet(subnet), gateway: formatIp(gateway), bridge: driver === "bridge" ? bridge(id) : "", internal: o.internal ? 1 : 0, created: new Date().toISOString(), labels: JSON.stringify(o.labels ?? {}) };
    fs.mkdirSync(dir(ctx), { recursive: true, mode: 0o700 });
    const list = driver === "bridge" ? confList(ctx, row) : linkConfList(ctx, name, driver, o.options ?? {}, row.subnet, row.gateway, o.internal === true);
    fs.writeFileSync(configFile(ctx, name), JSON.stringify(list, null, 2) + "\n");
    ctx.db.insertNetwork(row);
    return row;
  });
}

/** The default network, made on first use. */
export function ensureDefaultNetwork(ctx: EngineContext): void {
  if (ctx.db.network(DEFAULT_NETWORK)) return;
  try {
    // another --root (a test's) gets its own bridge, so two berths never share one
    const bridge = ctx.root === path.resolve(defaultRoot()) ? DEFAULT_BRIDGE : `berth-${createHash("sha256").update(ctx.root).digest("hex").slice(0, 8)}`;
    insert(ctx, DEFAULT_NETWORK, {}, () => bridge, DEFAULT_SUBNETS);
  } catch (e) {
    if (!ctx.db.network(DEFAULT_NETWORK)) throw e; // made by another berth meanwhile: fine
  }
}

export function createNetwork(ctx: EngineContext, name: string, o: NetworkCreateOptions = {}): Network {
  ensureDefaultNetwork(ctx);
  if (name === "none" || name === "host" || name === "bridge") throw invalidArgument(`network name ${name} is reserved`);
  // 10.89.0.0/24, 10.89.1.0/24, …: the next /24 no network or host route has
  const candidates = Array.from({ length: 256 * 8 }, (_, i) => `10.${89 + (i >> 8)}.${i & 255}.0/24`);
  return toNetwork(ctx, insert(ctx, name, o, (id) => `br-${id.slice(0, 12)}`, candidates));
}

/** Docker's name for the default network, accepted as berth's. */
export function networkName(name: string): string {
  return name === "bridge" ? DEFAULT_NETWORK : name;
}

export function getNetwork(ctx: EngineContext, name: string): Network {
  ensureDefaultNetwork(ctx);
  const r = ctx.db.network(networkName(name));
  if (!r) throw notFound(`network ${name} not found`);
  return toNetwork(ctx, r);
}

export async function listNetworks(ctx: EngineContext): Promise<Network[]> {
  ensureDefaultNetwork(ctx);
  await sweep(ctx);
  return ctx.db.networks().map((r) => toNetwork(ctx, r));
}

/** The berth networks a container's config names, first (eth0) first; none for none, host or container:… */
export function configNetworks(config: string): string[] {
  const h = JSON.parse(config) as { network?: string; extraNetworks?: { name: string }[] };
  if (!h.network || h.network === "none" || h.network === "host" || h.network.startsWith("container:")) return [];
  return [h.network, ...(h.extraNetworks ?? []).map((n) => n.name)];
}

/** Containers (by name) whose config names the network. */
export function networkUsers(ctx: EngineContext, name: string): string[] {
  const pods = ctx.db.pods().filter((p) => (JSON.parse(p.config) as { network?: string }).network === name).map((p) => `pod ${p.name}`);
  return [...ctx.db.containers().filter((c) => configNetworks(c.config).includes(name)).map((c) => c.name), ...pods];
}

export async function removeNetwork(ctx: EngineContext, name: string): Promise<void> {
  const r = ctx.db.network(networkName(name));
  if (!r) throw notFound(`network ${name} not found`);
  if (r.name === DEFAULT_NETWORK) throw invalidArgument(`${r.name} is a pre-defined network and cannot be removed`);
  const users = networkUsers(ctx, r.name);
  if (users.length) throw conflict(`error while removing network: network ${r.name} has active endpoints (${users.join(", ")})`);
  await sweep(ctx);
  ctx.db.deleteNetwork(r.name);
  fs.rmSync(configFile(ctx, r.name), { force: true });
  fs.rmSync(path.join(ipamDir(ctx), r.name), { recursive: true, force: true });
  deleteBridge(r.bridge);
}

/** The bridge plugin makes a network's bridge but never removes it. */
function deleteBridge(bridge: string): void {
  if (bridge && fs.existsSync(`/sys/class/net/${bridge}`)) spawnSync("ip", ["link", "delete", bridge], { timeout: 30_000 });
}

/** Removes every network no container uses (of the default one, its bridge); returns their names. */
export async function pruneNetworks(ctx: EngineContext): Promise<string[]> {
  const gone: string[] = [];
  for (const n of ctx.db.networks()) {
    if (networkUsers(ctx, n.name).length) continue;
    if (n.name === DEFAULT_NETWORK) {
      deleteBridge(n.bridge); // the plugin makes it again on the next run
      continue;
    }
    await removeNetwork(ctx, n.name);
    gone.push(n.name);
  }
  return gone;
}

// ---- containers on networks ---------------------------------------------------------

/** The named netns of a container (`ip netns exec berth-<id12> …`). */
export function containerNetns(id: string): string {
  // a build step's id (build-<pid>-<hex>) is not hex: its hash keeps the names apart
  return `berth-${/^[0-9a-f]{12}/.test(id) ? id.slice(0, 12) : createHash("sha256").update(id).digest("hex").slice(0, 12)}`;
}

export interface PortMapping {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

export interface NetworkAttachment {
  network: string;
  ifName: string;
  netns: string;
  result: CniResult;
  portMappings: PortMapping[];
}

/** Host ports of every container's mappings: the running ones' (CNI cache) and the others' (their config). */
export function publishedPorts(ctx: EngineContext): PortMapping[] {
  const live = cniRuntime(ctx).all().flatMap((c) => (c.capabilityArgs?.portMappings as PortMapping[] | undefined) ?? []);
  const configured = ctx.db.containers().flatMap((c) => (JSON.parse(c.config) as { ports?: PortMapping[] }).ports ?? []);
  return [...live, ...configured];
}

/** `-P`: each ExposedPorts entry (`80/tcp`, `8000-8001/udp`) not published with -p gets a free host port. */
export async function publishExposed(ctx: EngineContext, exposed: Record<string, object> | undefined, hostIP: string, ports: PortMapping[]): Promise<PortMapping[]> {
  const out = [...ports];
  for (const key of Object.keys(exposed ?? {})) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m || m[3] === "sctp") continue; // portmap has tcp and udp
    const protocol = (m[3] ?? "tcp") as "tcp" | "udp";
    for (let p = Number(m[1]); p <= Number(m[2] ?? m[1]) && p <= 65535; p++) {
      if (out.some((o) => o.containerPort === p && o.protocol === protocol)) continue;
      out.push({ hostIP, hostPort: await freeHostPort(hostIP, protocol, [...publishedPorts(ctx), ...out]), containerPort: p, protocol });
    }
  }
  return out;
}

/** Throws when a host port is published by another container of this berth or taken on the host. */
export async function checkPorts(ctx: EngineContext, portMappings: PortMapping[]): Promise<void> {
  const all = cniRuntime(ctx).all();
  for (const m of portMappings) {
    const other = all.find((c) => ((c.capabilityArgs?.portMappings as PortMapping[] | undefined) ?? []).some((o) => clash(o, m)));
    if (other) throw conflict(`Bind for ${m.hostIP || "0.0.0.0"}:${m.hostPort} failed: port is already allocated (container ${other.containerId.slice(0, 12)})`);
    await checkPortFree(m);
  }
}

/** Throws unless `ip` is a host address of the network's subnet other than its gateway. */
export function checkIp(ctx: EngineContext, network: string, ip: string): void {
  const n = getNetwork(ctx, network);
  const s = parseSubnet(n.subnet);
  const a = parseIp(ip);
  const broadcast = (s.base + 2 ** (32 - s.prefix) - 1) >>> 0;
  if (a === undefined || !contains(s, a) || a === s.base || a === broadcast) throw invalidArgument(`--ip ${ip}: not a host address of network ${n.name} (${n.subnet})`);
  if (ip === n.gateway) throw invalidArgument(`--ip ${ip}: the gateway of network ${n.name}`);
  const holder = cniRuntime(ctx).all().find((c) => c.network === n.name && c.result?.ips?.some((i) => i.address.split("/")[0] === ip));
  if (holder) throw conflict(`--ip ${ip}: address already in use on network ${n.name} (container ${holder.containerId.slice(0, 12)})`);
}

/** What one attachment asks for besides ports: a fixed address (host-local's CNI_ARGS IP=), a MAC (the tuning plugin). */
export interface AttachOptions {
  ip?: string;
  mac?: string;
  /** eth0 (the default) makes the netns; eth1, … join the one the container has (no default route through them) */
  ifName?: string;
}

/** Makes the container's netns and attaches it to `network`; undone whole on failure. */
export async function attachContainer(ctx: EngineContext, id: string, network: string, portMappings: PortMapping[] = [], o: AttachOptions = {}): Promise<NetworkAttachment> {
  const r = ctx.db.network(networkName(network));
  if (!r) throw notFound(`network ${network} not found`);
  const ifName = o.ifName ?? "eth0";
  /** the network's list for this attachment (read under the network lock: the default network's subnet may change there) */
  const listOf = (row: NetworkRow) => {
    const list = confList(ctx, row);
    // tuning sets the MAC on the container's end, right after the bridge plugin made it
    if (o.mac) list.plugins.splice(1, 0, { type: "tuning", capabilities: { mac: true }, dataDir: path.join(dir(ctx), "tuning") });
    // one more interface in the netns the container has: its first network keeps the default route
    if (ifName !== "eth0") (list.plugins[0]!.ipam as { routes?: unknown[] }).routes = [];
    return list;
  };
  const capabilityArgs: Record<string, unknown> = { ...(portMappings.length ? { portMappings } : {}), ...(o.mac ? { mac: o.mac } : {}) };
  const cni = cniRuntime(ctx);
  for (const p of listOf(r).plugins) cni.findPlugin(p.type); // a missing plugin: refused before a netns exists
  const name = containerNetns(id);
  const current = () => listOf(r.name === DEFAULT_NETWORK ? reclaimDefaultSubnet(ctx) : r);
  if (ifName !== "eth0") {
    return serialised(async () => {
      const list = current();
      await checkPorts(ctx, portMappings);
      const result = await cni.add(list, { containerId: id, netns: netnsPath(name), ifName, capabilityArgs, ...(o.ip ? { args: { IP: o.ip } } : {}) });
      isolate(ctx);
      return { network: r.name, ifName, netns: name, result, portMappings };
    });
  }
  await detachContainer(ctx, id); // a crashed start's leftovers
  return serialised(async () => {
    const list = current();
    await checkPorts(ctx, portMappings);
    const netns = createNetns(name);
    try {
      const result = await cni.add(list, { containerId: id, netns, ifName: "eth0", capabilityArgs, ...(o.ip ? { args: { IP: o.ip } } : {}) });
      isolate(ctx);
      return { network: r.name, ifName: "eth0", netns: name, result, portMappings };
    } catch (e) {
      deleteNetns(name);
      throw e;
    }
  });
}

/**
 * The default network's bridge goes when it is idle, and with it the route that kept its
 * subnet from another root's default network: before the bridge is made again (under the
 * network lock, so no other berth is making one meanwhile), a subnet that a host route now
 * covers is exchanged for a free one, as a first use would choose it.
 */
function reclaimDefaultSubnet(ctx: EngineContext): NetworkRow {
  const r = ctx.db.network(DEFAULT_NETWORK)!;
  if (fs.existsSync(`/sys/class/net/${r.bridge}`) || cniRuntime(ctx).all().some((c) => c.network === r.name)) return r;
  const mine = parseSubnet(r.subnet);
  const routes = hostRoutes();
  if (!routes.some((s) => overlaps(s, mine))) return r;
  const others = ctx.db.networks().filter((n) => n.name !== r.name).map((n) => parseSubnet(n.subnet));
  const subnet = DEFAULT_SUBNETS.map(parseSubnet).find((c) => ![...routes, ...others].some((u) => overlaps(u, c)));
  if (!subnet) throw conflict(`network ${r.name}: its subnet ${r.subnet} is now another network's (a host route covers it) and no free subnet is left among ${DEFAULT_SUBNETS.join(", ")}`);
  ctx.db.updateNetworkSubnet(r.name, formatSubnet(subnet), formatIp(firstHost(subnet)));
  fs.rmSync(path.join(ipamDir(ctx), r.name), { recursive: true, force: true }); // no address of it is in use
  const next = ctx.db.network(DEFAULT_NETWORK)!;
  fs.writeFileSync(configFile(ctx, next.name), JSON.stringify(confList(ctx, next), null, 2) + "\n");
  return next;
}

const NETWORK_LOCK = "/run/lock/berth-network.lock";

/**
 * Runs `fn` as the only berth on the host changing the network: the plugins' and berth's
 * read-modify-writes of shared iptables chains (portmap's, the isolation chains) race in
 * iptables-nft otherwise (a rule lost, a -D that finds its rule gone), and /etc/hosts peers
 * sections written from an older view would go stale. Held for one plugin chain at a time.
 */
export function serialised<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(NETWORK_LOCK), { recursive: true });
  return withLock(NETWORK_LOCK, "the host's network setup", fn);
}

/** What the container is attached to, from the CNI cache. */
export function containerAttachments(ctx: EngineContext, id: string): NetworkAttachment[] {
  return cniRuntime(ctx)
    .cachedFor(id)
    .filter((c) => c.result)
    .map((c) => ({ network: c.network, ifName: c.ifName, netns: containerNetns(id), result: c.result!, portMappings: (c.capabilityArgs?.portMappings as PortMapping[] | undefined) ?? [] }));
}

/** DEL for every attachment the container has (idempotent), then its netns goes. */
export async function detachContainer(ctx: EngineContext, id: string): Promise<void> {
  const cni = cniRuntime(ctx);
  // a container that never had a network (the default, none) has nothing to tear down: no lock
  if (cni.cachedFor(id).length === 0 && !cni.deleting(id) && !fs.existsSync(netnsPath(containerNetns(id)))) return;
  const networks = new Set<string>();
  // one berth at a time tears a container's attachments down: two bridge DELs of one
  // container at once (its eth0 and eth1) race in iptables-nft and lose a NAT rule
  const lock = await lockDetach(ctx, id);
  try {
    // rm -f and the container's monitor may both be here: each DEL is claimed by one of them;
    // the other waits for it (bounded), and takes over a claim whose process died
    for (let i = 0; i < 300; i++) {
      // the last interface first: eth0 (its first network's) goes last
      const cached = cni.cachedFor(id).sort((a, b) => b.ifName.localeCompare(a.ifName, undefined, { numeric: true }));
      for (const c of cached) {
        networks.add(c.network);
        await serialised(() => cni.del(c.network, id, c.ifName));
      }
      if (!cni.deleting(id)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // the netns goes after DEL: the bridge plugin skips its NAT rules' teardown without one
    deleteNetns(containerNetns(id));
  } finally {
    if (lock) fs.rmSync(lock, { force: true });
  }
  if (networks.size === 0) return;
  await serialised(async () => {
    writePeerHosts(ctx, [...networks], []);
    dropContainerRules([id]);
    housekeeping(ctx);
  });
}

/** Takes <cache>/<id>.detach (its holder's pid in it); waits (bounded) while a live berth holds it, takes over a dead one's. */
async function lockDetach(ctx: EngineContext, id: string): Promise<string | undefined> {
  const lock = path.join(dir(ctx), "cache", `${id}.detach`);
  fs.mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
  for (let i = 0; i < 600; i++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let holder = 0;
    try {
      holder = Number(fs.readFileSync(lock, "utf8"));
    } catch {
      continue; // released meanwhile
    }
    if (holder > 0 && !processAlive(holder)) fs.rmSync(lock, { force: true });
    else await new Promise((r) => setTimeout(r, 50));
  }
  return undefined; // held for 30 s: go on regardless (DEL claims still keep each attachment's DEL to one berth)
}

/** After an attachment went (`network disconnect`): isolation rules for the bridges still in use; the plugins' empty chains when none is. */
export function attachmentsChanged(ctx: EngineContext): Promise<void> {
  return serialised(async () => housekeeping(ctx));
}

/**
 * After attachments went (under the network lock): isolation rules for the bridges still in
 * use; the default network's bridge when no container is on it (the next run's ADD makes it
 * again), and the plugins' empty chains when berth has no attachment left, so the host is as
 * berth found it when nothing runs.
 */
function housekeeping(ctx: EngineContext): void {
  const all = cniRuntime(ctx).all();
  isolate(ctx);
  if (!all.some((c) => c.network === DEFAULT_NETWORK)) deleteBridge(ctx.db.network(DEFAULT_NETWORK)?.bridge ?? "");
  if (all.length === 0) dropEmptyChains();
}

/** The isolation rules for the bridges that have containers on them now. */
function isolate(ctx: EngineContext): void {
  const inUse = new Set(cniRuntime(ctx).all().map((c) => c.network));
  const nets = ctx.db.networks();
  const bridges = nets.filter((n) => n.driver === "bridge" && n.bridge);
  isolateBridges(bridges.filter((n) => inUse.has(n.name)).map((n) => n.bridge), bridges.map((n) => n.bridge));
}

/**
 * Attachments whose container (or pod) is gone (a crash between rm's steps) or whose build
 * step's berth (build-<pid>-…, no record) is: DEL them now.
 */
export async function sweep(ctx: EngineContext): Promise<void> {
  for (const c of cniRuntime(ctx).all()) {
    const build = /^build-(\d+)-/.exec(c.containerId);
    const gone = build ? !processAlive(Number(build[1])) : !ctx.db.container(c.containerId) && !ctx.db.pod(c.containerId);
    if (gone) await detachContainer(ctx, c.containerId).catch(() => undefined);
  }
}

export { netnsPath };

// ---- names ----------------------------------------------------------------------------

const PEERS = "# berth: containers on the same networks (kept up to date by berth)";

/**
 * Rewrites the peers section of /etc/hosts of every container on `networks`: each one's IP
 * with its name, short ID and hostname, so containers reach each other by name. The file is
 * bind-mounted, so it is rewritten in place (same inode), never replaced.
 */
export function updatePeerHosts(ctx: EngineContext, networks: string[], also: string[] = []): Promise<void> {
  return serialised(async () => writePeerHosts(ctx, networks, also));
}

function writePeerHosts(ctx: EngineContext, networks: string[], also: string[]): void {
  const all = cniRuntime(ctx).all().filter((c) => c.result);
  const members = new Set([...all.filter((c) => networks.includes(c.network)).map((c) => c.containerId), ...also]);
  for (const id of members) {
    const mine = new Set(all.filter((c) => c.containerId === id).map((c) => c.network));
    const lines: string[] = [];
    for (const c of all) {
      if (!mine.has(c.network)) continue;
      const row = ctx.db.container(c.containerId);
      const ip = c.result!.ips?.[0]?.address.split("/")[0];
      if (!row || !ip) continue;
      const h = JSON.parse(row.config) as { hostname?: string; network?: string; networkAliases?: string[]; extraNetworks?: { name: string; aliases?: string[] }[] };
      // --network-alias names it on its first network; `network connect --alias` on that one
      const aliases = c.network === h.network ? (h.networkAliases ?? []) : (h.extraNetworks?.find((n) => n.name === c.network)?.aliases ?? []);
      lines.push(`${ip}\t${[...new Set([row.name, row.id.slice(0, 12), ...(h.hostname ? [h.hostname] : []), ...aliases])].join(" ")}`);
    }
    const file = ctx.paths(id).hosts;
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue; // not started yet, or gone
    }
    const base = text.includes(PEERS) ? text.slice(0, text.indexOf(PEERS)) : text;
    const fd = fs.openSync(file, "r+");
    try {
      const out = Buffer.from(`${base}${PEERS}\n${[...new Set(lines)].join("\n")}\n`);
      fs.writeSync(fd, out, 0, out.length, 0);
      fs.ftruncateSync(fd, out.length);
    } finally {
      fs.closeSync(fd);
    }
  }
}
