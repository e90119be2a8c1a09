// The cgroups layer: one CgroupManager interface, a v1 and a v2 driver.
import * as fs from "node:fs";
import path from "node:path";
import { detectCgroupMode, modeFromMountInfo, parseMountInfo } from "./detect.js";
import { CgroupFiles } from "./files.js";
import type { CgroupManager, CgroupOptions } from "./manager.js";
import { parseCgroupsPath } from "./paths.js";
import { V1Manager } from "./v1/manager.js";
import { V2Manager } from "./v2/manager.js";

export type { CgroupManager, CgroupMode, CgroupOptions, CgroupStats } from "./manager.js";
export type { CgroupTrace } from "./files.js";
export { cgroupModeFromEnv, detectCgroupMode, parseMountInfo } from "./detect.js";
export { compileDeviceFilter, runDeviceFilter, DEVICE_FILTER_LICENSE, type DeviceRequest } from "./v2/device-filter.js";

/**
 * rmdir `<mount>/<parent>` in every cgroup hierarchy where no cgroup is left in it: the
 * engine's own parent (`/berth`), made again by the next create (makeCgroupDirs retries a
 * parent removed under it). One with a child cgroup stays: rmdir refuses it.
 */
export function removeIdleParent(parent: string): void {
  let text: string;
  try {
    text = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return;
  }
  for (const m of parseMountInfo(text)) {
    try {
      fs.rmdirSync(path.join(m.mountPoint, parent));
    } catch {
      // still in use, already gone, or not ours to remove (unprivileged)
    }
  }
}

export function cgroupManager(opts: CgroupOptions): CgroupManager {
  const cgroupPath = parseCgroupsPath(opts.cgroupsPath, opts.containerId);
  const mountinfo = opts.mountinfo ?? fs.readFileSync("/proc/self/mountinfo", "utf8");
  const procSelfCgroup = opts.procSelfCgroup ?? fs.readFileSync("/proc/self/cgroup", "utf8");
  const mode = opts.mode ?? (opts.mountinfo ? modeFromMountInfo(parseMountInfo(mountinfo)) : detectCgroupMode());
  const files = new CgroupFiles(opts.trace);
  return mode === "v2"
    ? new V2Manager(cgroupPath, mountinfo, procSelfCgroup, files)
    : new V1Manager(cgroupPath, mountinfo, procSelfCgroup, files);
}
