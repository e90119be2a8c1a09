// start: mount the container's root filesystem, write its config, and run it under a monitor
// that outlives this process. A failure undoes all of it; the record stays "created".
import * as fs from "node:fs";
import path from "node:path";
import { BerthError, conflict, internal, notFound } from "../../errors.js";
import * as runtime from "../../runtime/index.js";
import { MNT_DETACH, procStat, umount2 } from "../../sys/index.js";
import { cgroupsPathOf, type EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import { attachSocketPath, monitorLauncher } from "../monitor.js";
import type { HostConfig } from "../options.js";
import { containerArgs, containerSpec } from "../spec.js";
import { prepareForSystemd, systemdOn } from "../systemd.js";
import { detectCgroupMode } from "../../cgroups/index.js";
import { fillVolume } from "../volumes.js";
import { refresh, releaseResources } from "./cleanup.js";
import { lookup } from "./lookup.js";
import { attachContainer, containerNetns, netnsPath, updatePeerHosts } from "../networks.js";
import { joinPod } from "../pods/join.js";
import { adaptSpecWhenRootless } from "../rootless.js";
import { SLIRP_DNS, SLIRP_NETWORK, startSlirp } from "../slirp.js";
import { isRootless } from "../../sys/index.js";

/** The program could not be run: Docker's 126 (not executable) or 127 (not found). */
export class CommandError extends BerthError {
  constructor(
    message: string,
    readonly status: 126 | 127,
  ) {
    super(status === 127 ? "NotFound" : "FailedPrecondition", message);
  }
}

export function isMounted(target: string): boolean {
  return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === target);
}

export function unmount(target: string): void {
  if (!isMounted(target)) return;
  try {
    umount2(target); // in-process: a `umount` process costs ~3 ms
  } catch {
    // busy (a process of ours still in it): detach it; the kernel frees it when the last user goes
    try {
      if (isMounted(target)) umount2(target, MNT_DETACH);
    } catch {
      // unmounted by someone else meanwhile (a cleanup running at the same time)
    }
  }
}

/** /etc/hosts, /etc/hostname and /etc/resolv.conf for the container. */
function writeEtc(ctx: EngineContext, row: ContainerRow, h: HostConfig): void {
  const p = ctx.paths(row.id);
  const hostname = h.hostname ?? row.id.slice(0, 12);
  if (h.network === "host") {
    fs.copyFileSync("/etc/hosts", p.hosts);
  } else {
    fs.writeFileSync(p.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`);
  }
  if (h.addHosts) fs.appendFileSync(p.hosts, h.addHosts.map(([name, ip]) => `${ip}\t${name}\n`).join(""));
  fs.writeFileSync(p.hostname, `${hostname}\n`);
  let resolv = "";
  try {
    resolv = fs.readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    // none on the host
  }
  // a resolver on the host's loopback cannot be reached from another network namespace
  if (h.network !== "host") resolv = resolv.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l)).join("\n");
  // --dns, --dns-search, --dns-option replace the host's lines of that kind
  const replace = (key: string, values: string[] | undefined, line: (v: string[]) => string[]) => {
    if (!values) return;
    resolv = [...resolv.split("\n").filter((l) => !new RegExp(`^\\s*${key}\\s`).test(l) && l.trim() !== ""), ...line(values)].join("\n") + "\n";
  };
  replace("nameserver", h.dns, (v) => v.map((d) => `nameserver ${d}`));
  replace("(search|domain)", h.dnsSearch, (v) => (v.includes(".") ? [] : [`search ${v.join(" ")}`]));
  replace("options", h.dnsOptions, (v) => [`options ${v.join(" ")}`]);
  fs.writeFileSync(p.resolvConf, resolv);
}

function commandError(e: unknown): unknown {
  if (!(e instanceof BerthError) || !e.message.startsWith('exec: "')) return e;
  const m = /^exec: "(.*)": (.*)$/.exec(e.message);
  if (!m) return e;
  if (e.kind === "NotFound") return new CommandError(`exec: "${m[1]}": executable file not found in $PATH`, 127);
  return new CommandError(`exec: "${m[1]}": ${m[2]}`, 126);
}

/** `--network container:ID`: the running container's netns (its named one, else its init's) and its /etc files. */
function joinedNetwork(ctx: EngineContext, id: string): { netns: string; hosts: string; resolvConf: string } {
  const other = ctx.db.container(id);
  if (!other) throw notFound(`--network container:${id.slice(0, 12)}: no such container`);
  const o = refresh(ctx, other);
  if (!o || o.state !== "running" || o.pid <= 0) throw conflict(`cannot join network of a non running container: ${other.name}`);
  const named = netnsPath(containerNetns(o.id));
  const oh = JSON.parse(o.config) as HostConfig;
  if (oh.network === "host") throw conflict(`cannot join network of container ${o.name}: it is on --network host (use --network host)`);
  if (oh.network.startsWith("container:")) return joinedNetwork(ctx, oh.network.slice("container:".length));
  const op = ctx.paths(o.id);
  return { netns: fs.existsSync(named) ? named : `/proc/${o.pid}/ns/net`, hosts: op.hosts, resolvConf: op.resolvConf };
}

export interface StartHooks {
  /** once the monitor runs and before the program does: attach here to miss no output */
  beforeStart?: (row: ContainerRow) => Promise<void>;
}

export async function start(ctx: EngineContext, ref: string, hooks: StartHooks = {}): Promise<ContainerRow> {
  let row = refresh(ctx, lookup(ctx, ref));
  if (!row) throw internal(`container ${ref} was removed while starting`);
  if (row.state === "running") return row;
  if (row.state === "paused") throw conflict(`cannot start a paused container ${row.name}: unpause it instead`);
  const h = JSON.parse(row.config) as HostConfig;
  const p = ctx.paths(row.id);
  const imageConfig = ctx.images.resolve(row.imageId).config;
  // a stopped container's leftovers (a crashed start, an old exit record) go first
  await releaseResources(ctx, row.id);
  fs.mkdirSync(p.runDir, { recursive: true, mode: 0o711 });
  try {
    fs.mkdirSync(p.rootfs, { recursive: true });
    ctx.images.snapshots.mount(row.id, p.rootfs);
    const volumeDirs: Record<string, string> = {};
    for (const b of h.binds) {
      if (b.kind !== "volume") continue;
      fillVolume(ctx, b.source, p.rootfs, b.destination);
      volumeDirs[b.destination] = ctx.volumeDir(b.source);
    }
    const joined: { netns?: string; hosts: string; resolvConf: string; namespaces?: Record<string, string> } | undefined = h.pod ? await joinPod(ctx, h.pod) : h.network.startsWith("container:") ? joinedNetwork(ctx, h.network.slice("container:".length)) : undefined;
    // an unprivileged container's user-mode network: slirp4netns, once its netns exists (below)
    const slirp = h.network === SLIRP_NETWORK && isRootless();
    const attached = !joined && !slirp && h.network !== "none" && h.network !== "host" ? await attachContainer(ctx, row.id, h.network, h.ports ?? [], { ip: h.ip, mac: h.macAddress }) : undefined;
    // more networks: eth1, eth2, … in the same netns
    if (attached) for (const [i, n] of (h.extraNetworks ?? []).entries()) await attachContainer(ctx, row.id, n.name, [], { ip: n.ip, ifName: `eth${i + 1}` });
    if (joined) fs.writeFileSync(p.hostname, `${h.hostname ?? row.id.slice(0, 12)}\n`);
    else writeEtc(ctx, row, h);
    if (slirp && !h.dns) fs.writeFileSync(p.resolvConf, fs.readFileSync(p.resolvConf, "utf8").replace(/^\s*nameserver\s.*\n?/gm, "") + `nameserver ${SLIRP_DNS}\n`);
    if (attached) await updatePeerHosts(ctx, [attached.network, ...(h.extraNetworks ?? []).map((n) => n.name)]);
    const spec = containerSpec({
      netns: joined?.netns ?? (attached && netnsPath(attached.netns)),
      namespaces: joined?.namespaces,
      id: row.id,
      hostConfig: h,
      image: imageConfig,
      rootfs: p.rootfs,
      etc: { hosts: joined?.hosts ?? p.hosts, hostname: p.hostname, resolvConf: joined?.resolvConf ?? p.resolvConf },
      volumeDirs,
      cgroupsPath: cgroupsPathOf(row.id),
    });
    const systemd = systemdOn(h, containerArgs(h, imageConfig)) ? prepareForSystemd(spec, row.id, ctx.runtime.cgroupMode ?? detectCgroupMode(), p.runDir) : undefined;
    adaptSpecWhenRootless(spec, ctx.warn);
    fs.writeFileSync(path.join(p.runDir, "config.json"), JSON.stringify(spec, null, 2));
    let monitorPid = 0;
    const launcher = monitorLauncher({
      log: p.log,
      exitFile: p.exitFile,
      maxSize: h.logMaxSize,
      maxFiles: h.logMaxFile,
      exitCommand: ctx.cleanupCommand(row.id),
      attachSocket: attachSocketPath(p.runDir),
      openStdin: h.openStdin ?? false,
      journal: systemd?.journal,
      onMonitor: (pid) => (monitorPid = pid),
    });
    try {
      await runtime.create(ctx.runtime, { id: row.id, bundle: p.runDir, stay: true, launcher, stdio: ["ignore", "ignore", "ignore"] });
    } catch (e) {
      throw commandError(e);
    }
    const created = runtime.state(ctx.runtime, row.id);
    if (slirp) await startSlirp(p.runDir, created.pid ?? 0, h.ports ?? []);
    await hooks.beforeStart?.(row);
    await runtime.start(ctx.runtime, row.id);
    const startedAt = new Date(Date.now()).toISOString();
    ctx.db.updateContainer(row.id, { state: "running", pid: created.pid ?? 0, monitorPid, monitorStart: procStat(monitorPid)?.startTime ?? null, startedAt, finishedAt: null, exitCode: null });
    row = ctx.db.container(row.id)!;
    // a program that is over at once may already have been cleaned up by its monitor
    if (procStat(row.pid) === undefined) row = refresh(ctx, row) ?? row;
    return row;
  } catch (e) {
    await releaseResources(ctx, row.id);
    if (e instanceof CommandError) ctx.db.updateContainer(row.id, { exitCode: e.status });
    throw e;
  }
}
