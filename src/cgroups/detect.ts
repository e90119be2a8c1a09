// Which cgroup hierarchy the host uses, and where each controller is mounted.
import * as fs from "node:fs";
import { invalidArgument } from "../errors.js";
import type { CgroupMode } from "./manager.js";

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface CgroupMount {
  /** The cgroup shown at the mount point, relative to the hierarchy's root ("/" unless in a nested container). */
  root: string;
  mountPoint: string;
  fsType: "cgroup" | "cgroup2";
  /** v1 controllers of the hierarchy (from the super options); empty for cgroup2. */
  controllers: string[];
  /** a named v1 hierarchy's name (`name=systemd`: "systemd") */
  name?: string;
}

/**
 * The driver the environment asks for: BERTH_CGROUP_MODE=v1|v2 overrides detection (on a hybrid
 * host, v2 puts containers in the cgroup2 mount instead of the v1 controllers).
 */
export function cgroupModeFromEnv(env: Record<string, string | undefined>): CgroupMode | undefined {
  const forced = env.BERTH_CGROUP_MODE;
  if (forced === undefined || forced === "") return undefined;
  if (forced === "v1" || forced === "v2") return forced;
  throw invalidArgument(`BERTH_CGROUP_MODE: expected v1 or v2, got ${JSON.stringify(forced)}`);
}

/** v2 when /sys/fs/cgroup is itself a cgroup2 mount; hybrid hosts count as v1. */
export function detectCgroupMode(): CgroupMode {
  try {
    return fs.statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC ? "v2" : "v1";
  } catch {
    return modeFromMountInfo(parseMountInfo(fs.readFileSync("/proc/self/mountinfo", "utf8")));
  }
}

export function modeFromMountInfo(mounts: CgroupMount[]): CgroupMode {
  const top = mounts.find((m) => m.mountPoint === "/sys/fs/cgroup");
  if (top) return top.fsType === "cgroup2" ? "v2" : "v1";
  if (mounts.some((m) => m.fsType === "cgroup" && m.controllers.length > 0)) return "v1";
  return mounts.some((m) => m.fsType === "cgroup2") ? "v2" : "v1";
}

/** The cgroup mounts of a /proc/self/mountinfo text, first mount of each hierarchy first. */
export function parseMountInfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const fields = line.slice(0, sep).split(" ");
    const [fsType, , superOptions = ""] = line.slice(sep + 3).split(" ");
    if ((fsType !== "cgroup" && fsType !== "cgroup2") || fields.length < 5) continue;
    mounts.push({
      root: unescape(fields[3]!),
      mountPoint: unescape(fields[4]!),
      fsType,
      controllers: fsType === "cgroup" ? superOptions.split(",").filter((o) => !/^(rw|ro)$|=/.test(o)) : [],
      ...(fsType === "cgroup" && /(^|,)name=([^,]+)/.test(superOptions) ? { name: /(?:^|,)name=([^,]+)/.exec(superOptions)![1] } : {}),
    });
  }
  return mounts;
}

/** /proc/self/cgroup as controller -> path; "" is the cgroup2 entry, co-mounted controllers get one entry each. */
export function parseProcCgroup(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const controller of m[1] === "" ? [""] : m[1]!.split(",")) paths.set(controller, m[2]!);
  }
  return paths;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
