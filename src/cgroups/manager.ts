// The one cgroup interface; v1/ and v2/ implement it side by side.
import type { LinuxResources } from "../oci/runtime-spec.js";
import type { CgroupTrace } from "./files.js";

export type CgroupMode = "v1" | "v2";

export interface CgroupStats {
  /** Bytes; limit -1 = unlimited. */
  /** inactiveFile: page cache the kernel can drop at once (Docker leaves it out of the usage it shows). */
  memory: { usage: number; limit: number; maxUsage?: number; inactiveFile?: number };
  cpu: { usageNanos: number; throttledPeriods?: number };
  /** limit 0 = max. */
  pids: { current: number; limit: number };
  /** Bytes read from and written to block devices, all devices summed. */
  io?: { readBytes: number; writeBytes: number };
}

export interface CgroupManager {
  readonly mode: CgroupMode;
  /** Create the cgroup directories (idempotent); on failure removes the directories it made. */
  create(): void;
  /** Write linux.resources; a setting this host cannot apply is a BerthError naming it. */
  apply(resources: LinuxResources): void;
  /** Put a pid into every controller's cgroup. */
  addProcess(pid: number): void;
  /** Pids in the cgroup and its sub-cgroups. */
  pids(): number[];
  stats(): CgroupStats;
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  /** Send signal (default SIGKILL) to every process in the cgroup. */
  killAll(signal?: NodeJS.Signals | number): void;
  /** Remove the cgroup (sub-cgroups first) and the parents this manager created; missing directories are fine. */
  destroy(): void;
  /** The absolute directory per v1 controller, or { unified: dir } for v2. */
  paths(): Record<string, string>;
}

export interface CgroupOptions {
  /**
   * linux.cgroupsPath: absolute = from each hierarchy's root, relative = below the
   * calling process's own cgroup (runc's cgroupfs driver); default "/berth/<containerId>".
   * systemd "slice:prefix:name" paths and ".." components are rejected.
   */
  cgroupsPath?: string;
  containerId: string;
  /** /proc/self/mountinfo text (tests point the drivers at fixture directories). */
  mountinfo?: string;
  /** /proc/self/cgroup text. */
  procSelfCgroup?: string;
  mode?: CgroupMode;
  /** Called after every file the driver writes (tests, debug logs). */
  trace?: CgroupTrace;
}
