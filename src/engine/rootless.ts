// Unprivileged berth (README "Unprivileged berth"): the ids a user may map, from /etc/subuid
// and /etc/subgid, and the user namespace every berth call of that user runs in. The
// namespace itself is made and joined by native/build/berth-userns; this decides its maps.
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cgroupModeFromEnv, detectCgroupMode, parseMountInfo } from "../cgroups/index.js";
import { failedPrecondition } from "../errors.js";
import type { Spec } from "../oci/index.js";
import { inUserNamespace, isRootless, ownIdMaps } from "../sys/index.js";

/** Podman's and LXC's default: room for every id an ordinary image uses. */
export const SUBID_MINIMUM = 65536;

export interface SubordinateRange {
  start: number;
  count: number;
}

/** The user's first range in an /etc/subuid-style file (lines NAME_OR_ID:START:COUNT); undefined when there is none. */
export function subordinateRange(text: string, user: string, id: number): SubordinateRange | undefined {
  for (const line of text.split("\n")) {
    const [who, start, count] = line.trim().split(":");
    if ((who === user || who === String(id)) && /^\d+$/.test(start ?? "") && /^\d+$/.test(count ?? "")) {
      return { start: Number(start), count: Number(count) };
    }
  }
  return undefined;
}

export interface UserNamespacePlan {
  /** native/build/berth-userns and its arguments up to (not including) the program to run */
  helper: string[];
}

/**
 * What joins (or first makes) the user's namespace: the ranges checked before anything is
 * made, so a user without them gets one line naming the file and the fix.
 */
export function userNamespacePlan(
  user: { name: string; uid: number; gid: number },
  pidFile: string,
  env: Record<string, string | undefined>,
  files = { subuid: "/etc/subuid", subgid: "/etc/subgid" },
): UserNamespacePlan {
  const range = (file: string, flag: string): SubordinateRange => {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      // a missing file is a missing range
    }
    const fix = `add one, e.g. \`usermod ${flag} 100000-165535 ${user.name}\``;
    const r = subordinateRange(text, user.name, file === files.subuid ? user.uid : user.gid);
    if (!r) throw failedPrecondition(`${user.name} has no range in ${file}: ${fix}`);
    if (r.count < SUBID_MINIMUM) throw failedPrecondition(`${user.name}'s range in ${file} has ${r.count} ids (${r.start}-${r.start + r.count - 1}), fewer than the ${SUBID_MINIMUM} berth needs: ${fix}`);
    return { start: r.start, count: SUBID_MINIMUM };
  };
  const uids = range(files.subuid, "--add-subuids");
  const gids = range(files.subgid, "--add-subgids");
  for (const tool of ["newuidmap", "newgidmap"]) {
    if (!findProgram(tool, env.PATH)) throw failedPrecondition(`${tool} is not installed: an unprivileged berth needs it to map /etc/subuid and /etc/subgid (apt-get install uidmap)`);
  }
  const helper = fileURLToPath(new URL("../../../native/build/berth-userns", import.meta.url));
  return {
    helper: [helper, pidFile, String(user.uid), String(uids.start), String(uids.count), String(user.gid), String(gids.start), String(gids.count), "--"],
  };
}

function findProgram(name: string, searchPath: string | undefined): string | undefined {
  // as execvp looks it up in native/berth-userns
  const dirs = (searchPath || "/usr/local/bin:/usr/bin:/bin").split(":");
  for (const d of dirs) {
    const p = path.join(d || ".", name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface DelegatedCgroup {
  /** the cgroup's path in the v2 hierarchy ("/user.slice/user-1000.slice/user@1000.service") */
  path: string;
  /** the controllers it has (its cgroup.controllers) */
  controllers: string[];
}

/**
 * The cgroup a cgroup v2 host delegates to this user (systemd's user@UID.service, or any tree
 * chowned to the user): the highest cgroup above berth's own that the user owns, with the
 * controllers it has. Undefined on cgroup v1 (nothing is delegated there) and when berth's own
 * cgroup is not the user's (a login session's scope: moving a process out of it needs rights
 * on a common parent the user does not own).
 */
export function delegatedCgroup(o: { mount?: string; self?: string; mode?: "v1" | "v2"; uid?: number } = {}): DelegatedCgroup | undefined {
  if ((o.mode ?? cgroupModeFromEnv(process.env) ?? detectCgroupMode()) !== "v2") return undefined;
  const mount = o.mount ?? cgroup2Mount();
  if (mount === undefined) return undefined;
  let own: string | undefined;
  try {
    own = /^0::(\/.*)$/m.exec(readFileSync(o.self ?? "/proc/self/cgroup", "utf8"))?.[1];
  } catch {
    return undefined;
  }
  const uid = o.uid ?? ownUid();
  const owned = (p: string) => statSync(path.join(mount, p), { throwIfNoEntry: false })?.uid === uid;
  if (own === undefined || !owned(own)) return undefined;
  let top = own;
  while (top !== "/" && owned(path.posix.dirname(top))) top = path.posix.dirname(top);
  let controllers: string[] = [];
  try {
    controllers = readFileSync(path.join(mount, top, "cgroup.controllers"), "utf8").split(/\s+/).filter(Boolean);
  } catch {
    // none
  }
  return { path: top, controllers };
}

/** Where the cgroup2 hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host. */
function cgroup2Mount(): string | undefined {
  try {
    return parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8")).find((m) => m.fsType === "cgroup2" && m.root === "/")?.mountPoint;
  } catch {
    return undefined;
  }
}

/**
 * The user's own id as this process sees it: in berth's user namespace (README "Unprivileged
 * berth") root is the first subordinate id, and the user is the one id mapped alone (65536).
 */
function ownUid(): number {
  if (!inUserNamespace()) return process.getuid?.() ?? -1;
  return ownIdMaps().uid.find((m) => m.count === 1 && m.inside === SUBID_MINIMUM)?.inside ?? -1;
}

/** Which v2 controller each kind of limit of linux.resources needs. */
const CONTROLLER_OF: Record<string, string> = { memory: "memory", cpu: "cpu", pids: "pids", blockIO: "io", hugepageLimits: "hugetlb", rdma: "rdma", network: "" };

/**
 * What an unprivileged container's spec cannot have. Where the host delegates a cgroup v2 tree
 * to the user, the container's cgroup goes there (DELEGATED/berth/ID) and keeps the limits the
 * delegated controllers can enforce; the others (and all of them without delegation, as on
 * this host's cgroup v1) are left out with one warning rather than failing the run. Without a
 * network namespace of its own (--network host) it may not mount sysfs: the host's /sys is
 * bound read-only, as runc does for rootless containers.
 */
export function adaptSpecWhenRootless(spec: Spec, warn: (message: string) => void): void {
  if (!isRootless()) return;
  rootlessCgroup(spec, warn, delegatedCgroup());
  if (!spec.linux?.namespaces?.some((n) => n.type === "network")) {
    for (const m of spec.mounts ?? []) {
      if (m.type !== "sysfs") continue;
      m.type = "bind";
      m.source = "/sys";
      m.options = ["rbind", "nosuid", "noexec", "nodev", "ro"];
    }
  }
}

/** The cgroup part of adaptSpecWhenRootless, given what the host delegates (if anything). */
export function rootlessCgroup(spec: Spec, warn: (message: string) => void, delegated: DelegatedCgroup | undefined): void {
  const r = spec.linux?.resources;
  const limits = Object.entries(r ?? {}).filter(([k, v]) => k !== "devices" && v !== undefined);
  if (delegated && spec.linux) {
    spec.linux.cgroupsPath = path.posix.join(delegated.path, spec.linux.cgroupsPath ?? "/berth");
    // cpuset's fields come with cpu's
    const cpusetAsked = !!(r?.cpu?.cpus || r?.cpu?.mems);
    const missing = limits.map(([k]) => CONTROLLER_OF[k] ?? k).filter((c) => c && !delegated.controllers.includes(c));
    if (cpusetAsked && !delegated.controllers.includes("cpuset")) missing.push("cpuset");
    if (missing.length) {
      for (const [k] of limits) if (missing.includes(CONTROLLER_OF[k] ?? k)) delete (r as Record<string, unknown>)[k];
      if (r?.cpu && missing.includes("cpuset")) r.cpu = { ...r.cpu, cpus: undefined, mems: undefined };
      warn(`cgroup controllers ${[...new Set(missing)].join(", ")} are not delegated to this user (${delegated.path}): running without those limits`);
    }
  } else if (r && limits.length) {
    spec.linux!.resources = { devices: r.devices };
    warn("cgroups are not delegated to this user: running without limits");
  }
}
