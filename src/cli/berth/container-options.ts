// The flags `run` and `create` share, with Docker's names, turned into ContainerOptions.
import * as fs from "node:fs";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import type { ContainerOptions } from "../../engine/index.js";
import { type CommandEnv, userPath } from "./globals.js";

const many = (v: string, all: string[]) => [...all, v];

export interface ContainerFlags {
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  label: string[];
  volume: string[];
  mount: string[];
  tmpfs: string[];
  readOnly?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  pidsLimit?: string;
  capAdd: string[];
  capDrop: string[];
  privileged?: boolean;
  securityOpt: string[];
  stopSignal?: string;
  systemd?: string;
  stopTimeout?: string;
  network: string[];
  publish: string[];
  publishAll?: boolean;
  ip?: string;
  macAddress?: string;
  networkAlias: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
  rm?: boolean;
  init?: boolean;
  logOpt: string[];
  ulimit: string[];
  sysctl: string[];
  shmSize?: string;
  pull?: string;
  platform?: string;
}

export function addContainerFlags(cmd: Command): Command {
  return cmd
    .option("--name <name>", "a name for the container")
    .option("-e, --env <NAME=VALUE>", "an environment variable (repeatable)", many, [])
    .option("--env-file <file>", "environment variables from a file, one NAME=VALUE a line", many, [])
    .option("-w, --workdir <dir>", "the working directory inside the container")
    .option("-u, --user <user>", "user[:group], names or numbers")
    .option("-h, --hostname <name>", "the container's host name")
    .option("--entrypoint <command>", "replace the image's ENTRYPOINT")
    .option("-l, --label <KEY=VALUE>", "a label (repeatable)", many, [])
    .option("-v, --volume <spec>", "HOST:CTR[:ro], VOLUME:CTR[:ro] or CTR (repeatable)", many, [])
    .option("--mount <spec>", "type=bind|volume|tmpfs,source=…,target=…[,readonly] (repeatable)", many, [])
    .option("--tmpfs <dir>", "a tmpfs at DIR[:options] (repeatable)", many, [])
    .option("--read-only", "mount the root filesystem read-only")
    .option("-m, --memory <bytes>", "memory limit (64m, 1g, …)")
    .option("--memory-swap <bytes>", "memory plus swap limit; -1 for unlimited swap")
    .option("--cpus <n>", "CPUs the container may use (0.5, 2, …)")
    .option("-c, --cpu-shares <n>", "relative CPU weight")
    .option("--cpuset-cpus <list>", "CPUs it may run on (0-1, 0,2)")
    .option("--pids-limit <n>", "most processes at once (-1 unlimited)")
    .option("--cap-add <cap>", "add a capability (repeatable; ALL)", many, [])
    .option("--cap-drop <cap>", "drop a capability (repeatable; ALL)", many, [])
    .option("--privileged", "every capability and device, no seccomp, no masked paths")
    .option("--security-opt <opt>", "seccomp=unconfined|FILE, no-new-privileges (repeatable)", many, [])
    .option("--stop-signal <signal>", "the signal stop sends first")
    .option("--stop-timeout <seconds>", "how long stop waits before SIGKILL")
    .option("--systemd <mode>", "true (default: when the command is systemd or /sbin/init), always or false: prepare the container for systemd as PID 1")
    .option("--network <mode>", "bridge (the default network: the default as root), none (loopback only; the default unprivileged), host, or a network's name; repeat it for several networks", many, [])
    .option("-p, --publish <[ip:]host:container[/proto]>", "publish a container port on the host (repeatable)", many, [])
    .option("--net <mode>", "same as --network", many, [])
    .option("-P, --publish-all", "publish the image's exposed ports on free host ports (on $BERTH_PUBLISH_ALL_IP if set, else all addresses)")
    .option("--ip <address>", "the container's IPv4 address on its network")
    .option("--mac-address <mac>", "the MAC address of its network interface")
    .option("--network-alias <name>", "another name the containers on its network reach it by (repeatable)", many, [])
    .option("--dns <ip>", "a nameserver for /etc/resolv.conf (repeatable; replaces the host's)", many, [])
    .option("--dns-search <domain>", "a search domain for /etc/resolv.conf (repeatable)", many, [])
    .option("--dns-option <opt>", "an option line for /etc/resolv.conf, e.g. ndots:2 (repeatable)", many, [])
    .option("--add-host <host:ip>", "a line in /etc/hosts (repeatable)", many, [])
    .option("--rm", "remove the container when it exits")
    .option("--init", "run an init (tini) as PID 1 that forwards signals and reaps zombies")
    .option("--log-opt <KEY=VALUE>", "json-file log: max-size=10m, max-file=3 (repeatable)", many, [])
    .option("--ulimit <NAME=SOFT[:HARD]>", "a resource limit (repeatable)", many, [])
    .option("--sysctl <KEY=VALUE>", "a namespaced kernel parameter (repeatable)", many, [])
    .option("--shm-size <bytes>", "the size of /dev/shm")
    .option("--pull <policy>", "missing (default): pull the image when it is not here; always; never")
    .option("--platform <os/arch[/variant]>", "the platform to pull (default: this host's)")
    .option("--pod <pod>", "run in a pod (name or ID): share its namespaces and network");
}

function pairs(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw invalidArgument(`${flag} ${JSON.stringify(p)}: expected KEY=VALUE`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** `--mount type=bind,source=/a,target=/b,readonly` as the -v/--tmpfs spec it means. */
function mountSpec(m: string): { volume?: string; tmpfs?: string } {
  const kv: Record<string, string> = {};
  for (const part of m.split(",")) {
    const [k, v = "true"] = part.split("=");
    kv[k!.trim()] = v;
  }
  const type = kv.type ?? "volume";
  const target = kv.target ?? kv.destination ?? kv.dst;
  const source = kv.source ?? kv.src;
  const ro = kv.readonly === "true" || kv.ro === "true";
  if (!target) throw invalidArgument(`--mount ${JSON.stringify(m)}: target= is required`);
  if (type === "tmpfs") return { tmpfs: kv["tmpfs-size"] ? `${target}:size=${kv["tmpfs-size"]}` : target };
  if (type !== "bind" && type !== "volume") throw invalidArgument(`--mount ${JSON.stringify(m)}: type must be bind, volume or tmpfs`);
  if (type === "bind" && !source) throw invalidArgument(`--mount ${JSON.stringify(m)}: a bind mount needs source=`);
  return { volume: source ? `${source}:${target}${ro ? ":ro" : ""}` : target };
}

function envFile(env: CommandEnv, file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(userPath(env, file), "utf8");
  } catch {
    throw invalidArgument(`--env-file ${file}: no such file`);
  }
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => (l.includes("=") ? l : `${l}=${env.cli.env[l] ?? ""}`));
}

export function containerOptions(env: CommandEnv, f: ContainerFlags, image: string, command: string[]): ContainerOptions {
  const mounts = f.mount.map(mountSpec);
  // -e NAME without a value takes it from berth's own environment, as docker does
  const envs = [...f.envFile.flatMap((file) => envFile(env, file)), ...f.env.map((e) => (e.includes("=") ? e : `${e}=${env.cli.env[e] ?? ""}`))];
  return {
    image,
    command,
    name: f.name,
    env: envs,
    workdir: f.workdir,
    user: f.user,
    hostname: f.hostname,
    entrypoint: f.entrypoint === undefined ? undefined : f.entrypoint === "" ? [] : [f.entrypoint],
    labels: pairs(f.label.map((l) => (l.includes("=") ? l : `${l}=`)), "--label"),
    volumes: [...f.volume, ...mounts.flatMap((m) => (m.volume ? [m.volume] : []))],
    tmpfs: [...f.tmpfs, ...mounts.flatMap((m) => (m.tmpfs ? [m.tmpfs] : []))],
    readOnly: f.readOnly,
    memory: f.memory,
    memorySwap: f.memorySwap,
    cpus: f.cpus,
    cpuShares: f.cpuShares,
    cpusetCpus: f.cpusetCpus,
    pidsLimit: f.pidsLimit,
    capAdd: f.capAdd,
    capDrop: f.capDrop,
    privileged: f.privileged,
    // a seccomp profile's path is the user's, relative to their directory (the warm service has another)
    securityOpt: f.securityOpt.map((o) => (/^seccomp[=:](?!unconfined$)[^/]/.test(o) ? `seccomp=${userPath(env, o.slice("seccomp=".length))}` : o)),
    stopSignal: f.stopSignal,
    stopTimeout: f.stopTimeout === undefined ? undefined : Number(f.stopTimeout),
    systemd: f.systemd,
    network: [...f.network, ...(f as { net?: string[] }).net!][0],
    extraNetworks: [...f.network, ...(f as { net?: string[] }).net!].slice(1),
    publish: f.publish,
    publishAll: f.publishAll,
    publishAllHostIp: f.publishAll ? env.cli.env.BERTH_PUBLISH_ALL_IP || undefined : undefined,
    ip: f.ip,
    macAddress: f.macAddress,
    networkAliases: f.networkAlias,
    dns: f.dns,
    dnsSearch: f.dnsSearch,
    dnsOptions: f.dnsOption,
    addHosts: f.addHost,
    autoRemove: f.rm,
    init: f.init,
    logOpts: pairs(f.logOpt, "--log-opt"),
    ulimits: f.ulimit,
    sysctls: pairs(f.sysctl, "--sysctl"),
    shmSize: f.shmSize,
    pod: (f as { pod?: string }).pod,
  };
}
