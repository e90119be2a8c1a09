// linux.cgroupsPath -> the directory of the cgroup in one hierarchy.
import * as path from "node:path";
import { invalidArgument, unavailable } from "../errors.js";
import type { CgroupMount } from "./detect.js";

export interface CgroupPath {
  /** true: below the caller's own cgroup; false: below the hierarchy's root. */
  relative: boolean;
  parts: string[];
}

export function parseCgroupsPath(cgroupsPath: string | undefined, containerId: string): CgroupPath {
  if (cgroupsPath === undefined || cgroupsPath === "") {
    if (containerId === "" || containerId === "." || containerId === ".." || containerId.includes("/")) {
      throw invalidArgument(`container id ${JSON.stringify(containerId)} cannot name a cgroup`);
    }
    return { relative: false, parts: ["berth", containerId] };
  }
  const what = `linux.cgroupsPath ${JSON.stringify(cgroupsPath)}`;
  if (cgroupsPath.includes(":")) {
    if (cgroupsPath.split(":").length === 3) {
      throw unavailable(`${what}: the systemd cgroup driver is not supported`, "use a path such as /berth/<id>");
    }
    throw invalidArgument(`${what}: expected a path such as /berth/<id>`);
  }
  if (cgroupsPath.includes("\0")) throw invalidArgument(`${what}: contains a NUL byte`);
  const parts = cgroupsPath.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw invalidArgument(`${what}: ".." components are not allowed`);
  if (parts.length === 0) throw invalidArgument(`${what}: names an existing cgroup, not a new one for the container`);
  return { relative: !cgroupsPath.startsWith("/"), parts };
}

/** The directory of `p` in the hierarchy mounted at `mount`; `own` is our cgroup there (from /proc/self/cgroup). */
export function cgroupDir(mount: CgroupMount, p: CgroupPath, own: string | undefined): string {
  if (!p.relative) return path.join(mount.mountPoint, ...p.parts);
  // /proc/self/cgroup shows paths from the hierarchy's root; the mount may show only a
  // subtree of it (nested containers), so strip the mount's root.
  const rel = path.posix.relative(mount.root, own ?? "/");
  if (rel === ".." || rel.startsWith("../")) {
    throw unavailable(`our own cgroup ${own} is outside the cgroup mounted at ${mount.mountPoint}`);
  }
  return path.join(mount.mountPoint, rel, ...p.parts);
}
