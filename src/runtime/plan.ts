// config.json -> launch plan. Every decision about how a container is set up is made
// here; native/berth-runtime only performs the ops in the order given.
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { invalidArgument } from "../errors.js";
import { capabilityMask } from "../oci/capabilities.js";
import { RLIMITS } from "../oci/validate.js";
import type { Hook, Mount, NamespaceType, Process, Spec } from "../oci/runtime-spec.js";
import { mappedId } from "./idmap.js";
import { DEFAULT_DEV_LINKS, DEFAULT_DEVICES, deviceTypeBits, makedev } from "./devices.js";
import { MS, parseMountOptions, propagationFlags } from "./mounts.js";
import { OpCode, type PlanOp, SyncPoint } from "./protocol.js";

export const CLONE_FLAGS: Record<NamespaceType, number> = {
  mount: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  time: 0x00000080,
};

/** setns(2) joins user first so that the others are entered with its privileges. */
const JOIN_ORDER: NamespaceType[] = ["user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"];


export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const EXEC_FIFO = "exec.fifo";
/** the state documents createContainer and startContainer hooks read on stdin (in the state dir) */
export const HOOK_STATE_CREATE = "hook-state-create.json";
export const HOOK_STATE_START = "hook-state-start.json";

export interface PlanInput {
  /** a validated config */
  spec: Spec;
  /** the bundle's root filesystem, absolute */
  rootfs: string;
  /** the container's state directory, absolute; holds the exec fifo */
  stateDir: string;
  /** controller -> the container's cgroup directory on the host, for "cgroup" mounts */
  cgroupPaths: Record<string, string>;
  cgroupMode: "v1" | "v2";
  /** keep the executor as the container's parent and exit with its status (`run` in the foreground) */
  stay: boolean;
  /** where the pty master goes when process.terminal is set (runc's --console-socket) */
  consoleSocket?: string;
  seccomp?: CompiledSeccomp;
  /** the caller is not root: no setgroups in a new user namespace */
  rootless?: boolean;
  /** root only of a user namespace (unprivileged berth): devices are bound from the host, as in a new one */
  inUserNs?: boolean;
  /** cgroup v2: the device rules as an eBPF program, attached to `dir` by the init */
  deviceFilter?: { dir: string; program: Buffer; license: string };
}

export interface LaunchPlan {
  ops: PlanOp[];
  /** namespaces the container gets new */
  newNamespaces: NamespaceType[];
}

/** A host path used as it is by the executor. */
const host = (p: string) => path.resolve(p);
/** A container path resolved by the executor inside the root, before pivot_root. */
const inRoot = (p: string) => path.posix.normalize(p).replace(/^\/+/, "") || ".";

export function compilePlan(input: PlanInput): LaunchPlan {
  const { spec, rootfs, stateDir } = input;
  // config.md: process is only REQUIRED when start is called; without one the init just waits
  const proc = spec.process;
  if (proc && (!proc.args || proc.args.length === 0)) throw invalidArgument("config.json: process.args: must be a non-empty array of strings");
  const ops: PlanOp[] = [];
  const op: AddOp = (code, ...args) => ops.push({ code, args });

  // ---- stage0: before clone
  const namespaces = spec.linux?.namespaces ?? [];
  const newNs = namespaces.filter((n) => !n.path).map((n) => n.type);
  const joined = namespaces.filter((n) => n.path);
  // namespaces that are not the host's: new ones, or another container's joined by path (as runc)
  const ownNs = namespaces.map((n) => n.type);
  op(OpCode.MKFIFO, `create exec fifo in ${stateDir}`, path.join(stateDir, EXEC_FIFO), 0o622);
  op(OpCode.OPEN_STATEDIR, `open state directory ${stateDir}`, stateDir);
  if (proc) addConsoleOps(op, proc, input.consoleSocket, input.stay);
  for (const type of JOIN_ORDER) {
    for (const ns of joined.filter((n) => n.type === type)) {
      op(OpCode.SETNS, `join ${type} namespace ${ns.path}`, ns.path!, CLONE_FLAGS[type]);
    }
  }
  if (input.deviceFilter) {
    // loaded here, in the caller's user namespace: a new one would have no right to bpf(2)
    const f = input.deviceFilter;
    op(OpCode.BPF_DEVICES, `apply device rules to cgroup ${f.dir}`, f.dir, f.program, f.license);
  }
  if (newNs.includes("time")) addTimeNamespaceOps(op, spec);
  let cloneFlags = 0;
  for (const type of newNs) {
    // the cgroup namespace is unshared after the init has joined its cgroup, so that it is the root
    if (type === "cgroup" || type === "time") continue;
    cloneFlags |= CLONE_FLAGS[type];
  }
  op(OpCode.CLONE, "clone container init", cloneFlags, input.stay ? 1 : 0);

  // ---- container init
  op(OpCode.SYNC, "wait for cgroups and id maps", SyncPoint.SETUP);
  const userNs = newNs.includes("user");
  if (userNs) {
    // with the maps written, take the namespace's root ids so that files we create are mapped
    const uids = spec.linux?.uidMappings;
    const gids = spec.linux?.gidMappings;
    if (mappedId(uids, 0) && mappedId(gids, 0)) op(OpCode.SETUSER, "become root in the user namespace", 0, 0, Buffer.alloc(0), 0);
  }
  if (newNs.includes("cgroup")) op(OpCode.UNSHARE, "create cgroup namespace", CLONE_FLAGS.cgroup);

  const newMountNs = newNs.includes("mount");
  if (newMountNs) {
    addRootfsOps(op, input);
  } else {
    addCreateHookOps(op, spec);
    op(OpCode.CHROOT, `chroot to ${rootfs}`, rootfs);
  }

  if (spec.hostname !== undefined) {
    if (!ownNs.includes("uts")) throw invalidArgument("config.json: hostname: requires a uts namespace (new or joined by path)");
    op(OpCode.SETHOSTNAME, `set hostname ${spec.hostname}`, spec.hostname);
  }
  if (spec.domainname !== undefined) {
    if (!ownNs.includes("uts")) throw invalidArgument("config.json: domainname: requires a uts namespace (new or joined by path)");
    op(OpCode.SETDOMAINNAME, `set domainname ${spec.domainname}`, spec.domainname);
  }
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    if (!/^[a-zA-Z0-9_.\-/]+$/.test(key) || key.includes("..")) {
      throw invalidArgument(`config.json: linux.sysctl: invalid key "${key}"`);
    }
    checkSysctlNamespace(key, ownNs);
    op(OpCode.WRITE_FILE, `set sysctl ${key}`, "/proc/sys/" + key.replace(/\./g, "/"), value);
  }
  if (newMountNs) {
    for (const p of spec.linux?.readonlyPaths ?? []) op(OpCode.READONLY_PATH, `make ${p} read-only`, p);
    for (const p of spec.linux?.maskedPaths ?? []) op(OpCode.MASK_PATH, `mask ${p}`, p);
    if (spec.root?.readonly) op(OpCode.REMOUNT_RO, "remount root read-only", "/");
  }
  if (newNs.includes("network")) op(OpCode.LOOPBACK_UP, "bring up the loopback interface");

  if (!proc) {
    op(OpCode.READY, "report ready");
    op(OpCode.WAIT_START, "wait for start", EXEC_FIFO);
    return { ops, newNamespaces: newNs };
  }
  // a rootless caller had to deny setgroups(2) to write its gid map
  const setgroups = !(userNs && input.rootless);
  if (!setgroups && (proc.user.additionalGids?.length ?? 0) > 0) {
    throw invalidArgument("config.json: process.user.additionalGids: not possible in a rootless container (setgroups is denied)");
  }
  if (spec.linux?.personality) op(OpCode.PERSONALITY, `set personality ${spec.linux.personality.domain}`, personality(spec.linux.personality));
  addProcessOps(op, proc, "config.json: process", setgroups, input.seccomp);
  op(OpCode.READY, "report ready");
  op(OpCode.WAIT_START, "wait for start", EXEC_FIFO);
  (spec.hooks?.startContainer ?? []).forEach((h, i) => addHookOp(op, "startContainer", i, h, HOOK_STATE_START));
  addExecOps(op, proc, input.seccomp);
  return { ops, newNamespaces: newNs };
}

/** the /proc/<pid>/ns/ file of each namespace type */
const NS_FILE: Record<NamespaceType, string> = {
  pid: "pid",
  network: "net",
  mount: "mnt",
  ipc: "ipc",
  uts: "uts",
  user: "user",
  cgroup: "cgroup",
  time: "time",
};

export interface ExecPlanInput {
  /** the process to start, complete (defaults from the container's config already applied) */
  process: Process;
  /** the container's config: its namespaces are the ones joined */
  spec: Spec;
  /** the container's init, whose namespaces are joined */
  initPid: number;
  stay: boolean;
  consoleSocket?: string;
  seccomp?: CompiledSeccomp;
}

/** A new process in every namespace of a running container (runc exec). */
export function compileExecPlan(input: ExecPlanInput): LaunchPlan {
  const proc = input.process;
  if (!proc.args || proc.args.length === 0) throw invalidArgument("process.args: must be a non-empty array of strings");
  const ops: PlanOp[] = [];
  const op: AddOp = (code, ...args) => ops.push({ code, args });
  addConsoleOps(op, proc, input.consoleSocket, input.stay);
  const types = new Set((input.spec.linux?.namespaces ?? []).map((n) => n.type));
  for (const type of JOIN_ORDER) {
    if (!types.has(type)) continue;
    const file = `/proc/${input.initPid}/ns/${NS_FILE[type]}`;
    op(OpCode.SETNS, `join ${type} namespace of the container (${file})`, file, CLONE_FLAGS[type]);
  }
  op(OpCode.CLONE, "clone exec process", 0, input.stay ? 1 : 0);
  op(OpCode.SYNC, "wait for cgroups", SyncPoint.SETUP);
  addProcessOps(op, proc, "process", true, input.seccomp);
  op(OpCode.READY, "report ready");
  addExecOps(op, proc, input.seccomp);
  return { ops, newNamespaces: [] };
}

/**
 * A time namespace only applies to children of the process that unshares it, and its
 * offsets must be written before the first one: so stage0 unshares, writes, then clones.
 */
function addTimeNamespaceOps(op: AddOp, spec: Spec): void {
  op(OpCode.UNSHARE, "create time namespace", CLONE_FLAGS.time);
  const lines: string[] = [];
  for (const [clock, off] of Object.entries(spec.linux?.timeOffsets ?? {})) {
    if (clock !== "monotonic" && clock !== "boottime") {
      throw invalidArgument(`config.json: linux.timeOffsets: unknown clock "${clock}" (expected monotonic or boottime)`);
    }
    lines.push(`${clock} ${off.secs ?? 0} ${off.nanosecs ?? 0}\n`);
  }
  // one write per clock: the kernel takes each line as a separate write
  for (const line of lines) op(OpCode.WRITE_FILE, "set time namespace offsets", "/proc/self/timens_offsets", line);
}

/** personality(2) from linux.personality: LINUX or LINUX32 (flags are not defined yet by the spec). */
function personality(p: { domain: string; flags?: string[] }): number {
  if (p.flags && p.flags.length > 0) throw invalidArgument("config.json: linux.personality.flags: no flags are supported");
  if (p.domain === "LINUX") return 0x0000;
  if (p.domain === "LINUX32") return 0x0008;
  throw invalidArgument(`config.json: linux.personality.domain: unknown domain "${p.domain}" (expected LINUX or LINUX32)`);
}

/** Where the pty master goes: the engine's console socket, or our own stdio (run -t). */
function addConsoleOps(op: AddOp, proc: Process, consoleSocket: string | undefined, stay: boolean): void {
  if (!proc.terminal) {
    if (consoleSocket) throw invalidArgument("--console-socket: process.terminal is false: there is no terminal to send");
    return;
  }
  if (consoleSocket) op(OpCode.CONSOLE_SOCKET, `connect to console socket ${consoleSocket}`, path.resolve(consoleSocket));
  else if (stay) op(OpCode.CONSOLE_PAIR, "create the console of the foreground container");
  else throw invalidArgument("process.terminal: a detached container needs --console-socket to receive its terminal");
}

/** The process's own attributes: terminal, rlimits, umask, privileges, user, cwd, program. */
function addProcessOps(op: AddOp, proc: Process, field: string, setgroups = true, seccomp?: CompiledSeccomp): void {
  if (proc.terminal) {
    op(OpCode.SETUP_TTY, "set up the terminal", proc.consoleSize?.height ?? 0, proc.consoleSize?.width ?? 0, proc.user.uid, proc.user.gid);
  }
  if (proc.oomScoreAdj !== undefined) op(OpCode.OOM_SCORE_ADJ, `set oom_score_adj ${proc.oomScoreAdj}`, proc.oomScoreAdj);
  for (const rl of proc.rlimits ?? []) {
    const res = RLIMITS[rl.type];
    if (res === undefined) throw invalidArgument(`${field}.rlimits: unknown type "${rl.type}"`);
    op(OpCode.SETRLIMIT, `set ${rl.type} to ${rl.soft}:${rl.hard}`, res, rlimitValue(rl.soft), rlimitValue(rl.hard));
  }
  op(OpCode.UMASK, "set umask", proc.user.umask ?? 0o022);
  if (proc.noNewPrivileges) op(OpCode.NO_NEW_PRIVS, "set no_new_privs");

  const caps = proc.capabilities ?? {};
  const mask = (names: string[] | undefined, set: string) => capabilityMask(names ?? [], `${field}.capabilities.${set}`);
  const bounding = mask(caps.bounding, "bounding");
  const effective = mask(caps.effective, "effective");
  const permitted = mask(caps.permitted, "permitted");
  const inheritable = mask(caps.inheritable, "inheritable");
  const ambient = mask(caps.ambient, "ambient");
  // without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before the
  // capabilities go (as runc); the few syscalls left before execve must pass it
  if (seccomp && !proc.noNewPrivileges) op(OpCode.SECCOMP, "load the seccomp filter", seccomp.program, seccomp.flags);
  op(OpCode.CAPS_BOUNDING, "drop capabilities from the bounding set", bounding);
  op(OpCode.KEEPCAPS, "keep capabilities across setuid", 1);
  const user = proc.user;
  const groups = Buffer.alloc(4 * (user.additionalGids?.length ?? 0));
  (user.additionalGids ?? []).forEach((g, i) => groups.writeUInt32LE(g, i * 4));
  op(OpCode.SETUSER, `set user ${user.uid}:${user.gid}`, user.uid, user.gid, groups, setgroups ? 1 : 0);
  op(OpCode.KEEPCAPS, "clear keep-capabilities", 0);
  op(OpCode.CAPSET, "set capabilities", effective, permitted, inheritable);
  op(OpCode.AMBIENT, "raise ambient capabilities", ambient);
  op(OpCode.CHDIR, `chdir to cwd ${proc.cwd}`, proc.cwd);
  const env = proc.env ?? [];
  const pathVar = env.filter((e) => e.startsWith("PATH=")).pop()?.slice(5) ?? DEFAULT_PATH;
  op(OpCode.LOOKUP_EXEC, `exec: "${proc.args![0]}"`, proc.args![0], pathVar);
}

/** The last two steps: the seccomp filter, then the program. */
function addExecOps(op: AddOp, proc: Process, seccomp?: CompiledSeccomp): void {
  if (seccomp && proc.noNewPrivileges) op(OpCode.SECCOMP, "load the seccomp filter", seccomp.program, seccomp.flags);
  op(OpCode.EXEC, `exec: "${proc.args![0]}"`, nulJoin(proc.args!), nulJoin(proc.env ?? []));
}

type AddOp = (code: OpCode, ...args: [string, ...(string | number | bigint | Buffer)[]]) => void;

/** A compiled seccomp filter (src/runtime/seccomp): the bytes and the seccomp(2) flags. */
export interface CompiledSeccomp {
  program: Buffer;
  flags: number;
}

/** Mounts, devices and pivot_root, in the new mount namespace. */
function addRootfsOps(op: AddOp, input: PlanInput): void {
  const { spec, rootfs } = input;
  // nothing we mount may propagate back to the host
  const rootProp = spec.linux?.rootfsPropagation;
  const prop = rootProp ? propagationFlags(rootProp, "config.json: linux.rootfsPropagation") : MS.SLAVE | MS.REC;
  // the host's "/" stays private to us while we build; rootfsPropagation is applied after pivot_root
  // while building, "/" is a recursive slave (or private, if asked): shared would leak our
  // mounts to the host and unbindable would forbid binding the rootfs; the asked-for
  // propagation is applied to the new root after pivot_root
  op(OpCode.MOUNT, "make / a slave mount", "", "/", "", prop & MS.PRIVATE ? MS.PRIVATE | MS.REC : MS.SLAVE | MS.REC, "", 0);
  op(OpCode.MOUNT, `bind rootfs ${rootfs} onto itself`, host(rootfs), host(rootfs), "", MS.BIND | MS.REC, "", 0);
  op(OpCode.SET_ROOT, `open rootfs ${rootfs}`, host(rootfs));

  const mounts = spec.mounts ?? [];
  mounts.forEach((m, i) => addMountOps(op, m, i, input));

  const devMount = mounts.find((m) => path.posix.normalize(m.destination) === "/dev");
  const devIsBind = devMount !== undefined && parseMountOptions(devMount.options, "").bind;
  const userNs = (spec.linux?.namespaces?.some((n) => n.type === "user") ?? false) || input.inUserNs === true;
  if (!devIsBind) {
    for (const d of [...DEFAULT_DEVICES, ...(spec.linux?.devices ?? [])]) {
      if (userNs) {
        // mknod is not allowed in a user namespace: the host's node is bound instead (as runc)
        op(OpCode.MOUNT, `bind device ${d.path}`, d.path, inRoot(d.path), "", MS.BIND, "", 2);
        continue;
      }
      const mode = deviceTypeBits(d.type) | (d.fileMode ?? 0o666);
      const dev = d.type === "p" ? 0n : makedev(d.major ?? 0, d.minor ?? 0);
      op(OpCode.MKNOD, `create device ${d.path}`, inRoot(d.path), mode, dev, d.uid ?? 0, d.gid ?? 0);
    }
    for (const [target, link] of DEFAULT_DEV_LINKS) op(OpCode.SYMLINK, `create symlink ${link}`, target, inRoot(link));
    if (existsSync("/proc/kcore")) op(OpCode.SYMLINK, "create symlink /dev/core", "/proc/kcore", inRoot("/dev/core"));
    if (mounts.some((m) => path.posix.normalize(m.destination) === "/dev/pts")) {
      op(OpCode.SYMLINK, "create symlink /dev/ptmx", "pts/ptmx", inRoot("/dev/ptmx"));
    }
  } else {
    for (const d of spec.linux?.devices ?? []) {
      const mode = deviceTypeBits(d.type) | (d.fileMode ?? 0o666);
      op(OpCode.MKNOD, `create device ${d.path}`, inRoot(d.path), mode, makedev(d.major ?? 0, d.minor ?? 0), d.uid ?? 0, d.gid ?? 0);
    }
  }
  addCreateHookOps(op, spec);
  op(OpCode.PIVOT_ROOT, `pivot_root to ${rootfs}`, host(rootfs));
  if (rootProp) op(OpCode.MOUNT, `set rootfs propagation ${rootProp}`, "", "/", "", prop, "", 0);
}

function addMountOps(op: AddOp, m: Mount, i: number, input: PlanInput): void {
  const field = `config.json: mounts[${i}]`;
  const dest = path.posix.normalize(m.destination);
  if (!path.posix.isAbsolute(dest)) throw invalidArgument(`${field}.destination: must be an absolute path`);
  const target = inRoot(dest);
  const opts = parseMountOptions(m.options, `${field}.options`);
  const type = m.type ?? "";
  const what = `mount ${m.source ?? type} on ${dest}`;

  if (type === "cgroup" || type === "cgroup2") {
    addCgroupMountOps(op, m, target, opts.flags, input, what);
    return;
  }
  if (opts.bind || type === "bind") {
    if (!m.source) throw invalidArgument(`${field}.source: required for a bind mount`);
    const source = path.resolve(path.dirname(input.rootfs), m.source);
    let isDir = true;
    try {
      isDir = statSync(source).isDirectory();
    } catch {
      throw invalidArgument(`${field}.source: ${m.source} does not exist`);
    }
    const bindFlags = MS.BIND | (opts.flags & MS.REC);
    op(OpCode.MOUNT, what, source, target, "", bindFlags, "", isDir ? 1 : 2);
    const extra = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (extra !== 0) {
      op(OpCode.MOUNT, `remount ${dest} with its options`, "", target, "", MS.BIND | MS.REMOUNT | extra, "", 0);
    }
  } else {
    const source = m.source ?? type;
    op(OpCode.MOUNT, what, source, target, type, opts.flags, opts.data, 1);
  }
  for (const p of opts.propagation) op(OpCode.MOUNT, `set propagation of ${dest}`, "", target, "", p, "", 0);
}

/** Hooks of the creation, just before pivot_root: the runtime's own (a sync point) then the container's. */
function addCreateHookOps(op: AddOp, spec: Spec): void {
  if ((spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0) > 0) {
    op(OpCode.SYNC, "wait for prestart and createRuntime hooks", SyncPoint.HOOKS);
  }
  (spec.hooks?.createContainer ?? []).forEach((h, i) => addHookOp(op, "createContainer", i, h, HOOK_STATE_CREATE));
}

function addHookOp(op: AddOp, kind: string, i: number, h: Hook, stateFile: string): void {
  const args = h.args && h.args.length > 0 ? h.args : [h.path];
  op(OpCode.RUN_HOOK, `${kind} hook ${i} (${h.path})`, h.path, nulJoin(args), nulJoin(h.env ?? []), h.timeout ?? 0, stateFile);
}

/** A cgroup mount shows the container its own cgroups, read-only unless asked otherwise. */
function addCgroupMountOps(op: AddOp, m: Mount, target: string, flags: number, input: PlanInput, what: string): void {
  const ro = flags & MS.RDONLY;
  const base = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME);
  const cgroupNs = input.spec.linux?.namespaces?.some((n) => n.type === "cgroup" && !n.path) ?? false;
  if (input.cgroupMode === "v2") {
    if (cgroupNs) {
      op(OpCode.MOUNT, what, "cgroup2", target, "cgroup2", flags, "", 1);
    } else {
      const dir = Object.values(input.cgroupPaths)[0];
      op(OpCode.MOUNT, what, dir, target, "", MS.BIND | MS.REC, "", 1);
      if (flags) op(OpCode.MOUNT, `remount ${m.destination}`, "", target, "", MS.BIND | MS.REMOUNT | flags, "", 0);
    }
    return;
  }
  // v1: a tmpfs holding one directory per hierarchy, each the container's own cgroup
  op(OpCode.MOUNT, what, "tmpfs", target, "tmpfs", base, "mode=755", 1);
  const done = new Set<string>();
  for (const dir of Object.values(input.cgroupPaths)) {
    const rel = dir.startsWith("/sys/fs/cgroup/") ? dir.slice("/sys/fs/cgroup/".length) : "";
    const hierarchy = rel.split("/")[0];
    if (!hierarchy || done.has(hierarchy) || hierarchy === "unified") continue;
    done.add(hierarchy);
    const sub = `${target}/${hierarchy}`;
    op(OpCode.MOUNT, `bind cgroup ${hierarchy} on ${m.destination}/${hierarchy}`, dir, sub, "", MS.BIND | MS.REC, "", 1);
    op(OpCode.MOUNT, `remount cgroup ${hierarchy}`, "", sub, "", MS.BIND | MS.REMOUNT | base | ro, "", 0);
    // co-mounted hierarchies are reached by each controller's name too, as on the host
    if (hierarchy.includes(",")) {
      for (const c of hierarchy.split(",")) op(OpCode.SYMLINK, `link cgroup ${c}`, hierarchy, `${target}/${c}`);
    }
  }
  if (ro) op(OpCode.MOUNT, `remount ${m.destination} read-only`, "", target, "", MS.REMOUNT | MS.RDONLY | base, "mode=755", 0);
}

/** sysctls are only allowed for namespaced keys whose namespace the container owns (as runc). */
function checkSysctlNamespace(key: string, ownNs: NamespaceType[]): void {
  const ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];
  if (ipc.includes(key) || key.startsWith("fs.mqueue.")) {
    if (!ownNs.includes("ipc")) throw invalidArgument(`config.json: linux.sysctl: "${key}" requires an ipc namespace of the container's own`);
    return;
  }
  if (key.startsWith("net.")) {
    if (!ownNs.includes("network")) throw invalidArgument(`config.json: linux.sysctl: "${key}" requires a network namespace of the container's own`);
    return;
  }
  if (key === "kernel.hostname" || key === "kernel.domainname") {
    if (!ownNs.includes("uts")) throw invalidArgument(`config.json: linux.sysctl: "${key}" requires a uts namespace of the container's own`);
    return;
  }
  throw invalidArgument(`config.json: linux.sysctl: "${key}" is not namespaced and would change the host`);
}

function rlimitValue(v: number): bigint {
  // 2^64-1 (RLIM_INFINITY) does not survive JSON as a number: anything past 2^63 means infinity
  const b = BigInt(Math.trunc(v));
  return b >= 2n ** 63n || b < 0n ? -1n : b;
}

function nulJoin(list: readonly string[]): Buffer {
  return Buffer.from(list.map((s) => s + "\0").join(""), "utf8");
}
