// Unprivileged berth (README "Unprivileged berth"): the ids a user may map, from /etc/subuid
// and /etc/subgid, and the user namespace every berth call of that user runs in. The
// namespace itself is made and joined by native/build/berth-userns; this decides its maps.
import { accessSync, constants, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { failedPrecondition } from "../errors.js";
import type { Spec } from "../oci/index.js";
import { isRootless } from "../sys/index.js";

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

/**
 * What an unprivileged container's spec cannot have. It has no cgroup (this host's v1
 * hierarchies are not delegated to users), so --memory, --cpus, --pids-limit and the like
 * are left out with one warning rather than failing the run. Without a network namespace of
 * its own (--network host) it may not mount sysfs: the host's /sys is bound read-only, as
 * runc does for rootless containers.
 */
export function adaptSpecWhenRootless(spec: Spec, warn: (message: string) => void): void {
  if (!isRootless()) return;
  const r = spec.linux?.resources;
  if (r && Object.entries(r).some(([k, v]) => k !== "devices" && v !== undefined)) {
    spec.linux!.resources = { devices: r.devices };
    warn("cgroups are not delegated to this user: running without limits");
  }
  if (!spec.linux?.namespaces?.some((n) => n.type === "network")) {
    for (const m of spec.mounts ?? []) {
      if (m.type !== "sysfs") continue;
      m.type = "bind";
      m.source = "/sys";
      m.options = ["rbind", "nosuid", "noexec", "nodev", "ro"];
    }
  }
}
