// What `berth run`/`create` and Engine.create take, checked and normalised before anything is
// made: a bad flag is one clear error and leaves nothing behind.
import { clash, parsePublish } from "./ports.js";
import type { PortMapping } from "./networks.js";
import path from "node:path";
import { invalidArgument } from "../errors.js";
import { CAPABILITIES } from "../oci/index.js";
import { isRootless, signalNumber } from "../sys/index.js";

export interface ContainerOptions {
  image: string;
  name?: string;
  /** the arguments after the image: the command, or the entrypoint's arguments */
  command?: string[];
  /** `--entrypoint`: replaces the image's Entrypoint (and drops its Cmd) */
  entrypoint?: string[];
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  labels?: Record<string, string>;
  /** `-v`: host:ctr[:ro|rw], name:ctr[:ro], or ctr (an anonymous volume) */
  volumes?: string[];
  /** `--tmpfs`: ctr[:options] */
  tmpfs?: string[];
  readOnly?: boolean;
  /** bytes, or a size such as "64m" */
  memory?: string | number;
  memorySwap?: string | number;
  cpus?: number | string;
  cpuShares?: number | string;
  cpusetCpus?: string;
  pidsLimit?: number | string;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  /** `seccomp=unconfined|FILE`, `no-new-privileges[:true|false]` */
  securityOpt?: string[];
  stopSignal?: string;
  /** `--systemd`: true (the default: on when the command is systemd or /sbin/init), always, false */
  systemd?: string;
  /** seconds `stop` waits before SIGKILL */
  stopTimeout?: number;
  /** "none" (a network namespace with loopback only), "host", or a network's name ("bridge": the default one, also when not given, as root) */
  network?: string;
  /** `-p [ip:]hostPort:containerPort[/proto]`: on a network (the default one when --network is not given) */
  publish?: string[];
  /** `-P`: the image's ExposedPorts to free host ports berth picks (at create) */
  publishAll?: boolean;
  /** the host address -P publishes on (default: all of them) */
  publishAllHostIp?: string;
  /** more networks after `network` (`--network a --network b`): interfaces eth1, eth2, … */
  extraNetworks?: string[];
  /** `--ip`: the container's address on its network (host-local's CNI_ARGS IP=) */
  ip?: string;
  /** `--mac-address`: its interface's MAC (the tuning plugin) */
  macAddress?: string;
  /** `--network-alias`: more names the peers on its networks know it by */
  networkAliases?: string[];
  /** `--dns`, `--dns-search`, `--dns-option`: replace the host's in /etc/resolv.conf */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** `--add-host host:ip`: lines in /etc/hosts */
  addHosts?: string[];
  /** `--rm` */
  autoRemove?: boolean;
  /** `-t`: the program gets a terminal, held by its monitor */
  tty?: boolean;
  /** `-i`: keep its stdin open for attached clients */
  openStdin?: boolean;
  /** `--init`: tini as PID 1, forwarding signals to the command and reaping zombies */
  init?: boolean;
  /** `--log-opt max-size=10m`, `max-file=3` */
  logOpts?: Record<string, string>;
  /** `--ulimit nofile=1024:2048` */
  ulimits?: string[];
  sysctls?: Record<string, string>;
  shmSize?: string | number;
  /** `--pod`: a pod's name or ID; the container shares the pod's namespaces (its network: no --network, -p) */
  pod?: string;
}

export interface Bind {
  kind: "bind" | "volume" | "tmpfs";
  /** host path (bind) or volume name (volume) */
  source: string;
  destination: string;
  readonly: boolean;
  /** tmpfs mount options */
  options?: string[];
  /** a volume berth named for this container (-v /path) */
  anonymous?: boolean;
}

/** The checked options, as stored with the container. */
export interface HostConfig {
  image: string;
  name?: string;
  command: string[];
  entrypoint?: string[];
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  labels: Record<string, string>;
  binds: Bind[];
  readOnly: boolean;
  memory?: number;
  memorySwap?: number;
  cpuQuota?: number;
  cpuShares?: number;
  cpusetCpus?: string;
  pidsLimit?: number;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  seccomp: "default" | "unconfined" | { file: string };
  noNewPrivileges: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  /** whether PID 1 is prepared for systemd (systemd.ts); absent in records made before it: "true" */
  systemd?: "true" | "false" | "always";
  /** none, host, or a berth network's name */
  network: string;
  /** -p, through the portmap plugin (absent in records made before it) */
  ports?: PortMapping[];
  /** -P, turned into `ports` at create */
  publishAll?: boolean;
  publishAllHostIp?: string;
  /** networks after the first (eth1, …), from --network given again or `network connect` */
  extraNetworks?: ExtraNetwork[];
  ip?: string;
  macAddress?: string;
  networkAliases?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** [name, ip] */
  addHosts?: [string, string][];
  autoRemove: boolean;
  tty?: boolean;
  openStdin?: boolean;
  init?: boolean;
  logMaxSize: number;
  logMaxFile: number;
  ulimits: { type: string; soft: number; hard: number }[];
  sysctls: Record<string, string>;
  shmSize?: number;
  /** the pod's ID (`--pod`): its namespaces are joined at start (src/engine/pods) */
  pod?: string;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "64m", "1g", "512k", "1048576" -> bytes, as Docker reads --memory. */
export function parseBytes(v: string | number, flag: string): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$/i.exec(String(v).trim());
  if (!m) throw invalidArgument(`${flag} ${JSON.stringify(String(v))}: expected a size such as 64m, 1g or a number of bytes`);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

function parseInt10(v: string | number, flag: string, min: number): number {
  const n = typeof v === "number" ? v : /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw invalidArgument(`${flag} ${JSON.stringify(String(v))}: expected an integer of at least ${min}`);
  return n;
}

function capName(c: string, flag: string): string {
  const name = c.toUpperCase() === "ALL" ? "ALL" : c.toUpperCase().startsWith("CAP_") ? c.toUpperCase() : `CAP_${c.toUpperCase()}`;
  if (name !== "ALL" && !(name in CAPABILITIES)) throw invalidArgument(`${flag} ${c}: not a capability (such as NET_ADMIN or SYS_TIME)`);
  return name;
}

export function parseVolume(spec: string): Bind {
  const parts = spec.split(":");
  const bad = (why: string) => invalidArgument(`-v ${JSON.stringify(spec)}: ${why}`);
  if (parts.length === 1) {
    if (!spec.startsWith("/")) throw bad("a container path must be absolute");
    return { kind: "volume", source: "", destination: path.posix.normalize(spec), readonly: false, anonymous: true };
  }
  if (parts.length > 3) throw bad("expected SOURCE:DESTINATION[:ro|rw]");
  const [source, destination, mode = "rw"] = parts as [string, string, string?];
  const flags = mode.split(",");
  if (flags.some((f) => !["ro", "rw", "z", "Z", "rprivate", "private", "rshared", "shared", "rslave", "slave"].includes(f))) throw bad(`mode ${JSON.stringify(mode)}: expected ro or rw`);
  if (!destination.startsWith("/")) throw bad("the container path must be absolute");
  const readonly = flags.includes("ro");
  if (source.startsWith("/")) return { kind: "bind", source: path.normalize(source), destination: path.posix.normalize(destination), readonly };
  if (source.startsWith(".") || source.includes("/")) throw bad("a host path must be absolute (a relative one would depend on where berth runs)");
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source)) throw bad(`volume name ${JSON.stringify(source)}: expected letters, digits, '_', '.' and '-'`);
  return { kind: "volume", source, destination: path.posix.normalize(destination), readonly };
}

function parseUlimit(u: string): { type: string; soft: number; hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
  const names = ["core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack", "as"];
  if (!m || !names.includes(m[1]!)) throw invalidArgument(`--ulimit ${JSON.stringify(u)}: expected NAME=SOFT[:HARD] with NAME one of ${names.join(", ")}`);
  const soft = Number(m[2]);
  const hard = m[3] === undefined ? soft : Number(m[3]);
  if (soft > hard && hard !== -1) throw invalidArgument(`--ulimit ${u}: the soft limit is above the hard limit`);
  return { type: `RLIMIT_${m[1] === "as" ? "AS" : m[1]!.toUpperCase()}`, soft, hard };
}

/** A container name as Docker allows it (a leading "/" is Docker's own spelling). */
export function checkName(name: string): void {
  if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
}

/** A network a container is on besides its first: its own --ip and aliases (`network connect`). */
export interface ExtraNetwork {
  name: string;
  ip?: string;
  aliases?: string[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,252})$/;

export function parseOptions(o: ContainerOptions): HostConfig {
  if (!o.image) throw invalidArgument("an image is required");
  if (o.name !== undefined) checkName(o.name);
  for (const e of o.env ?? []) if (e === "" || e.startsWith("=")) throw invalidArgument(`-e ${JSON.stringify(e)}: expected NAME=VALUE`);
  if (o.workdir !== undefined && !o.workdir.startsWith("/")) throw invalidArgument(`-w ${JSON.stringify(o.workdir)}: the working directory must be absolute`);
  if (o.hostname !== undefined && !/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})$/.test(o.hostname)) throw invalidArgument(`--hostname ${JSON.stringify(o.hostname)}: expected a host name`);
  if (o.stopSignal !== undefined && signalNumber(o.stopSignal) === undefined) throw invalidArgument(`--stop-signal ${o.stopSignal}: not a signal`);
  if (o.systemd !== undefined && !["true", "false", "always"].includes(o.systemd)) throw invalidArgument(`--systemd ${JSON.stringify(o.systemd)}: expected true, false or always`);
  const ports = (o.publish ?? []).flatMap(parsePublish);
  // Docker's default: the default bridge network (root: CNI needs it; unprivileged, none)
  if (o.pod !== undefined) {
    // the pod's network namespace, /etc/hosts and resolv.conf: nothing of its own to set
    const own = { "--network": o.network !== undefined || o.extraNetworks?.length, "-p": ports.length > 0, "-P": o.publishAll, "--ip": o.ip, "--mac-address": o.macAddress, "--network-alias": o.networkAliases?.length, "--dns": o.dns?.length, "--dns-search": o.dnsSearch?.length, "--dns-option": o.dnsOptions?.length, "--add-host": o.addHosts?.length };
    const bad = Object.entries(own).find(([, v]) => v);
    if (bad) throw invalidArgument(`conflicting options: ${bad[0]} and --pod ${o.pod} (a container in a pod uses the pod's network: give ${bad[0] === "-p" ? "-p" : "--network"} to pod create)`);
  }
  const network = o.pod !== undefined ? "none" : (o.network ?? (ports.length || o.publishAll || !isRootless() ? "bridge" : "none"));
  if ((ports.length || o.publishAll) && (network === "none" || network === "host")) throw invalidArgument(`${ports.length ? "-p" : "-P"}: published ports need a network, not --network ${network}`);
  if (o.publishAllHostIp !== undefined && !IPV4.test(o.publishAllHostIp)) throw invalidArgument(`-P: host address ${JSON.stringify(o.publishAllHostIp)}: expected an IPv4 address`);
  for (const [i, p] of ports.entries()) if (ports.slice(0, i).some((q) => clash(p, q))) throw invalidArgument(`-p: host port ${p.hostPort}/${p.protocol} is published twice`);
  if (!/^(container:)?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(network)) throw invalidArgument(`--network ${JSON.stringify(network)}: expected none, host, container:NAME|ID or a network's name`);
  if (network.startsWith("container:")) {
    // the other container's network namespace, /etc/hosts and resolv.conf: nothing of its own to set
    const own = { "-p": ports.length > 0, "-P": o.publishAll, "--ip": o.ip, "--mac-address": o.macAddress, "--network-alias": o.networkAliases?.length, "--dns": o.dns?.length, "--dns-search": o.dnsSearch?.length, "--dns-option": o.dnsOptions?.length, "--add-host": o.addHosts?.length, "--hostname": o.hostname, "--network (again)": o.extraNetworks?.length };
    const bad = Object.entries(own).find(([, v]) => v);
    if (bad) throw invalidArgument(`conflicting options: ${bad[0]} and --network ${network} (it uses the other container's network)`);
  }
  const onNetwork = network !== "none" && network !== "host" && !network.startsWith("container:");
  const extraNetworks = [...new Set(o.extraNetworks ?? [])].filter((n) => n !== network).map((name): ExtraNetwork => ({ name }));
  for (const { name } of extraNetworks) if (!onNetwork || name === "none" || name === "host" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`--network ${name}: several networks must all be networks' names, not none or host`);
  if (o.ip !== undefined && (!onNetwork || !IPV4.test(o.ip))) throw invalidArgument(onNetwork ? `--ip ${JSON.stringify(o.ip)}: expected an IPv4 address` : `--ip: needs a network, not --network ${network}`);
  if (o.macAddress !== undefined && (!onNetwork || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(o.macAddress) || (parseInt(o.macAddress.slice(0, 2), 16) & 1) === 1)) throw invalidArgument(onNetwork ? `--mac-address ${JSON.stringify(o.macAddress)}: expected a unicast MAC such as 02:42:ac:11:00:02` : `--mac-address: needs a network, not --network ${network}`);
  for (const a of o.networkAliases ?? []) if (!onNetwork || !HOSTNAME.test(a)) throw invalidArgument(onNetwork ? `--network-alias ${JSON.stringify(a)}: expected a host name` : `--network-alias: needs a network, not --network ${network}`);
  for (const d of o.dns ?? []) if (!IPV4.test(d) && !/^[0-9a-fA-F:]+$/.test(d)) throw invalidArgument(`--dns ${JSON.stringify(d)}: expected an IP address`);
  for (const d of o.dnsSearch ?? []) if (d !== "." && !HOSTNAME.test(d)) throw invalidArgument(`--dns-search ${JSON.stringify(d)}: expected a domain`);
  for (const d of o.dnsOptions ?? []) if (!/^[a-zA-Z0-9_-]+(:[0-9]+)?$/.test(d)) throw invalidArgument(`--dns-option ${JSON.stringify(d)}: expected an option such as ndots:2`);
  const addHosts = (o.addHosts ?? []).map((a): [string, string] => {
    const i = a.search(/[:=]/);
    const [host, ip] = i < 0 ? ["", ""] : [a.slice(0, i), a.slice(i + 1)];
    if (!HOSTNAME.test(host) || !(IPV4.test(ip) || /^[0-9a-fA-F:]+$/.test(ip))) throw invalidArgument(`--add-host ${JSON.stringify(a)}: expected HOST:IP`);
    return [host, ip];
  });
  let seccomp: HostConfig["seccomp"] = "default";
  let noNewPrivileges = false;
  for (const s of o.securityOpt ?? []) {
    const [k, v] = s.includes("=") ? [s.slice(0, s.indexOf("=")), s.slice(s.indexOf("=") + 1)] : s.split(":");
    if (k === "seccomp" && v) seccomp = v === "unconfined" ? "unconfined" : { file: v };
    else if (k === "no-new-privileges") noNewPrivileges = v === undefined || v === "true";
    else throw invalidArgument(`--security-opt ${JSON.stringify(s)}: expected seccomp=unconfined|FILE or no-new-privileges`);
  }
  const binds = [...(o.volumes ?? []).map(parseVolume), ...(o.tmpfs ?? []).map((t): Bind => {
    const [dest, opts] = [t.split(":")[0]!, t.split(":").slice(1).join(":")];
    if (!dest.startsWith("/")) throw invalidArgument(`--tmpfs ${JSON.stringify(t)}: the container path must be absolute`);
    return { kind: "tmpfs", source: "tmpfs", destination: dest, readonly: false, options: opts ? opts.split(",") : [] };
  })];
  const seen = new Set<string>();
  for (const b of binds) {
    if (seen.has(b.destination)) throw invalidArgument(`Duplicate mount point: ${b.destination}`);
    seen.add(b.destination);
  }
  const cpus = o.cpus === undefined ? undefined : Number(o.cpus);
  if (cpus !== undefined && !(cpus > 0)) throw invalidArgument(`--cpus ${JSON.stringify(String(o.cpus))}: expected a positive number such as 0.5 or 2`);
  const memory = o.memory === undefined ? undefined : parseBytes(o.memory, "--memory");
  if (memory !== undefined && memory < 6 * 1024 * 1024) throw invalidArgument("--memory: the minimum is 6MB");
  const swap = o.memorySwap === undefined ? undefined : String(o.memorySwap) === "-1" ? -1 : parseBytes(o.memorySwap, "--memory-swap");
  if (swap !== undefined && swap !== -1 && memory !== undefined && swap < memory) throw invalidArgument("--memory-swap: must be at least --memory (it is memory plus swap)");
  if (o.cpusetCpus !== undefined && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(o.cpusetCpus)) throw invalidArgument(`--cpuset-cpus ${JSON.stringify(o.cpusetCpus)}: expected a list such as 0-1 or 0,2`);
  const logMaxSize = o.logOpts?.["max-size"] === undefined ? 0 : parseBytes(o.logOpts["max-size"], "--log-opt max-size");
  const logMaxFile = o.logOpts?.["max-file"] === undefined ? 1 : parseInt10(o.logOpts["max-file"], "--log-opt max-file", 1);
  for (const k of Object.keys(o.logOpts ?? {})) if (k !== "max-size" && k !== "max-file") throw invalidArgument(`--log-opt ${k}: the json-file log takes max-size and max-file`);
  return {
    image: o.image,
    name: o.name?.replace(/^\//, ""),
    command: o.command ?? [],
    entrypoint: o.entrypoint,
    env: o.env ?? [],
    workdir: o.workdir,
    user: o.user,
    hostname: o.hostname,
    labels: o.labels ?? {},
    binds,
    readOnly: o.readOnly ?? false,
    memory,
    memorySwap: swap,
    cpuQuota: cpus === undefined ? undefined : Math.round(cpus * 100_000),
    cpuShares: o.cpuShares === undefined ? undefined : parseInt10(o.cpuShares, "--cpu-shares", 2),
    cpusetCpus: o.cpusetCpus,
    pidsLimit: o.pidsLimit === undefined ? undefined : parseInt10(o.pidsLimit, "--pids-limit", -1),
    capAdd: (o.capAdd ?? []).map((c) => capName(c, "--cap-add")),
    capDrop: (o.capDrop ?? []).map((c) => capName(c, "--cap-drop")),
    privileged: o.privileged ?? false,
    seccomp,
    noNewPrivileges,
    stopSignal: o.stopSignal,
    stopTimeout: o.stopTimeout,
    systemd: o.systemd as HostConfig["systemd"],
    network,
    ports,
    extraNetworks: extraNetworks.length ? extraNetworks : undefined,
    publishAll: o.publishAll || undefined,
    publishAllHostIp: o.publishAll ? o.publishAllHostIp : undefined,
    ip: o.ip,
    macAddress: o.macAddress?.toLowerCase(),
    networkAliases: o.networkAliases?.length ? o.networkAliases : undefined,
    dns: o.dns?.length ? o.dns : undefined,
    dnsSearch: o.dnsSearch?.length ? o.dnsSearch : undefined,
    dnsOptions: o.dnsOptions?.length ? o.dnsOptions : undefined,
    addHosts: addHosts.length ? addHosts : undefined,
    autoRemove: o.autoRemove ?? false,
    tty: o.tty ?? false,
    openStdin: o.openStdin ?? false,
    init: o.init ?? false,
    logMaxSize,
    logMaxFile,
    ulimits: (o.ulimits ?? []).map(parseUlimit),
    sysctls: o.sysctls ?? {},
    shmSize: o.shmSize === undefined ? undefined : parseBytes(o.shmSize, "--shm-size"),
    pod: o.pod,
  };
}
