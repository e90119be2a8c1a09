// A container's OCI config: the image's defaults, the user's options and Docker's security
// defaults (its capability set, the default seccomp profile, masked /proc and /sys paths).
import * as fs from "node:fs";
import path from "node:path";
import { invalidArgument, notFound, unavailable } from "../errors.js";
import { CAPABILITIES, defaultSpec, type ImageConfig, type LinuxResources, type Mount, type Spec } from "../oci/index.js";
import { defaultSeccompProfile } from "../runtime/seccomp/index.js";
import type { HostConfig } from "./options.js";

/** Docker's default capabilities (moby's oci/caps defaults). */
export const DOCKER_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Where `--init` puts tini in the container (Docker's is /sbin/docker-init), read-only. */
export const INIT_PATH = "/sbin/berth-init";
/** Debian's tini package ships this static build: it runs in any rootfs, busybox's too. */
export const INIT_BINARY = "/usr/bin/tini-static";

export interface SpecInput {
  id: string;
  hostConfig: HostConfig;
  image: ImageConfig;
  /** the mounted root filesystem */
  rootfs: string;
  /** files berth writes for the container: hosts, hostname, resolv.conf */
  etc: { hosts: string; hostname: string; resolvConf: string };
  /** the host directory of each named or anonymous volume, by destination */
  volumeDirs: Record<string, string>;
  cgroupsPath: string;
  /** the named network namespace to join (a container on a network) */
  netns?: string;
  /** namespaces to join by path, by OCI type (a pod's infra's: network, ipc, uts, pid) */
  namespaces?: Record<string, string>;
}

/** The command: --entrypoint replaces the image's Entrypoint and its Cmd; arguments replace Cmd. */
export function containerArgs(h: HostConfig, image: ImageConfig): string[] {
  const c = image.config ?? {};
  const entrypoint = h.entrypoint ?? c.Entrypoint ?? [];
  const cmd = h.command.length > 0 ? h.command : h.entrypoint ? [] : (c.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw invalidArgument("no command specified: the image has no Cmd or Entrypoint, so name one after the image");
  return args;
}

/** KEY=VALUE lists merged, later ones winning (image, then the user's -e). */
export function mergeEnv(...lists: string[][]): string[] {
  const out = new Map<string, string>();
  for (const l of lists) for (const e of l) {
    const eq = e.indexOf("=");
    out.set(eq < 0 ? e : e.slice(0, eq), e);
  }
  return [...out.values()].filter((e) => e.includes("="));
}

/** A file inside the rootfs, never through a symlink that could point at the host. */
function readInRoot(rootfs: string, rel: string): string | undefined {
  let p = rootfs;
  for (const c of rel.split("/").filter(Boolean)) {
    p = path.join(p, c);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st || st.isSymbolicLink()) return undefined;
  }
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
}

/** `-u name`, `uid`, `name:group`, `uid:gid`, resolved with the image's /etc/passwd and /etc/group. */
export function resolveUser(rootfs: string, user: string | undefined): { uid: number; gid: number; additionalGids: number[] } {
  if (!user) return { uid: 0, gid: 0, additionalGids: [] };
  const [u, g] = user.split(":") as [string, string?];
  const passwd = (readInRoot(rootfs, "etc/passwd") ?? "").split("\n").map((l) => l.split(":"));
  const groups = (readInRoot(rootfs, "etc/group") ?? "").split("\n").map((l) => l.split(":"));
  let uid: number;
  let gid: number | undefined;
  let name: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = passwd.find((p) => p[2] === u);
    name = entry?.[0];
    gid = entry ? Number(entry[3]) : 0;
  } else {
    const entry = passwd.find((p) => p[0] === u);
    if (!entry) throw notFound(`unable to find user ${u}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    name = u;
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = groups.find((e) => e[0] === g);
      if (!entry) throw notFound(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(entry[2]);
    }
  }
  const additionalGids = name ? groups.filter((e) => (e[3] ?? "").split(",").includes(name!)).map((e) => Number(e[2])).filter((x) => x !== gid) : [];
  return { uid, gid: gid ?? 0, additionalGids };
}

function capabilities(h: HostConfig): string[] {
  if (h.privileged) return Object.keys(CAPABILITIES);
  let caps = h.capAdd.includes("ALL") ? Object.keys(CAPABILITIES) : [...DOCKER_CAPABILITIES, ...h.capAdd];
  if (h.capDrop.includes("ALL")) caps = h.capAdd.filter((c) => c !== "ALL");
  else caps = caps.filter((c) => !h.capDrop.includes(c));
  return [...new Set(caps)];
}

function resources(h: HostConfig): LinuxResources {
  const r: LinuxResources = { devices: [{ allow: false, access: "rwm" }] };
  if (h.privileged) r.devices = [{ allow: true, access: "rwm" }];
  if (h.memory !== undefined || h.memorySwap !== undefined) {
    r.memory = {};
    if (h.memory !== undefined) r.memory.limit = h.memory;
    // Docker: without --memory-swap, swap is as large as memory (limit + swap = 2x)
    if (h.memorySwap !== undefined) r.memory.swap = h.memorySwap;
    else if (h.memory !== undefined) r.memory.swap = h.memory * 2;
  }
  if (h.cpuQuota !== undefined || h.cpuShares !== undefined || h.cpusetCpus !== undefined) {
    r.cpu = {};
    if (h.cpuQuota !== undefined) Object.assign(r.cpu, { quota: h.cpuQuota, period: 100_000 });
    if (h.cpuShares !== undefined) r.cpu.shares = h.cpuShares;
    if (h.cpusetCpus !== undefined) r.cpu.cpus = h.cpusetCpus;
  }
  if (h.pidsLimit !== undefined && h.pidsLimit > 0) r.pids = { limit: h.pidsLimit };
  return r;
}

export function containerSpec(input: SpecInput): Spec {
  const { hostConfig: h, image } = input;
  const c = image.config ?? {};
  const spec = defaultSpec();
  const user = resolveUser(input.rootfs, h.user ?? c.User);
  const caps = capabilities(h);
  const hostname = h.network === "host" ? fs.readFileSync("/proc/sys/kernel/hostname", "utf8").trim() : (h.hostname ?? input.id.slice(0, 12));
  spec.hostname = h.network === "host" ? undefined : hostname;
  spec.process = {
    terminal: h.tty ?? false,
    user,
    args: h.init ? [INIT_PATH, "--", ...containerArgs(h, image)] : containerArgs(h, image),
    // Docker gives a terminal TERM=xterm unless the image or -e says otherwise
    env: mergeEnv(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", `HOSTNAME=${hostname}`, ...(h.tty ? ["TERM=xterm"] : [])], c.Env ?? [], h.env),
    cwd: h.workdir ?? (c.WorkingDir || "/"),
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    // only what --ulimit asks for: the rest are inherited, as Docker's containers inherit its daemon's
    rlimits: h.ulimits.filter((r, i) => !h.ulimits.slice(i + 1).some((x) => x.type === r.type)),
    noNewPrivileges: h.noNewPrivileges,
  };
  spec.root = { path: input.rootfs, readonly: h.readOnly };
  const mounts: Mount[] = spec.mounts ?? [];
  if (h.shmSize !== undefined) {
    const shm = mounts.find((m) => m.destination === "/dev/shm");
    if (shm) shm.options = [...(shm.options ?? []).filter((o) => !o.startsWith("size=")), `size=${h.shmSize}`];
  }
  if (h.privileged) for (const m of mounts) if (m.type === "sysfs" || m.type === "cgroup") m.options = (m.options ?? []).filter((o) => o !== "ro");
  const bind = (source: string, destination: string, ro: boolean): Mount => ({ destination, type: "bind", source, options: ["rbind", "rprivate", ...(ro ? ["ro"] : [])] });
  mounts.push(bind(input.etc.hosts, "/etc/hosts", false), bind(input.etc.resolvConf, "/etc/resolv.conf", false));
  if (h.network !== "host") mounts.push(bind(input.etc.hostname, "/etc/hostname", false));
  if (h.init) {
    if (!fs.existsSync(INIT_BINARY)) throw unavailable(`--init: ${INIT_BINARY} is not on this host (apt-get install tini)`);
    mounts.push(bind(INIT_BINARY, INIT_PATH, true));
  }
  for (const b of h.binds) {
    if (b.kind === "tmpfs") mounts.push({ destination: b.destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec", ...(b.options ?? [])] });
    else if (b.kind === "bind") {
      if (!fs.existsSync(b.source)) throw invalidArgument(`invalid mount config: bind source path does not exist: ${b.source}`);
      mounts.push(bind(b.source, b.destination, b.readonly));
    } else mounts.push(bind(input.volumeDirs[b.destination]!, b.destination, b.readonly));
  }
  spec.mounts = mounts;
  const linux = spec.linux!;
  linux.cgroupsPath = input.cgroupsPath;
  linux.resources = resources(h);
  linux.namespaces = (linux.namespaces ?? []).filter((n) => n.type !== "cgroup" && !(h.network === "host" && n.type === "network") && !(h.network === "host" && n.type === "uts"));
  if (input.netns) for (const n of linux.namespaces) if (n.type === "network") n.path = input.netns;
  for (const n of linux.namespaces) if (input.namespaces?.[n.type]) n.path = input.namespaces[n.type];
  if (input.namespaces?.uts) spec.hostname = undefined; // the pod's, set by its infra
  if (Object.keys(h.sysctls).length) linux.sysctl = h.sysctls;
  if (h.privileged) {
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
  } else if (h.seccomp === "default") {
    linux.seccomp = defaultSeccompProfile(caps);
  } else if (typeof h.seccomp === "object") {
    try {
      linux.seccomp = JSON.parse(fs.readFileSync(h.seccomp.file, "utf8"));
    } catch (e) {
      throw invalidArgument(`--security-opt seccomp=${h.seccomp.file}: ${(e as Error).message}`);
    }
  }
  if (Object.keys(h.labels).length) spec.annotations = { ...h.labels };
  return spec;
}
