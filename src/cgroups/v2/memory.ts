// v2 memory controller: memory.max, memory.swap.max, memory.low.
import { failedPrecondition, invalidArgument } from "../../errors.js";
import { RES, type Controller } from "../controller.js";
import { int, parseLimit, type CgroupFiles } from "../files.js";

const S = `${RES}.memory`;

export const memory: Controller = {
  name: "memory",
  requested(r) {
    const m = r.memory;
    if (!m) return undefined;
    for (const k of ["limit", "reservation", "swap"] as const) if (m[k] !== undefined) int(`${S}.${k}`, m[k]);
    if (m.swappiness !== undefined && m.swappiness !== -1) {
      throw invalidArgument(`${S}.swappiness: cgroup v2 has no per-cgroup swappiness`);
    }
    if (m.disableOOMKiller) throw invalidArgument(`${S}.disableOOMKiller: cgroup v2 cannot disable the OOM killer`);
    swapMax(m.limit ?? 0, m.swap ?? 0);
    // kernel, kernelTCP and useHierarchy are deprecated and ignored, as runc does.
    if (m.limit) return `${S}.limit`;
    if (m.swap) return `${S}.swap`;
    if (m.reservation) return `${S}.reservation`;
    return undefined;
  },
  apply(dir, r, files) {
    const m = r.memory ?? {};
    const limit = m.limit ?? 0;
    if (m.checkBeforeUpdate && limit > 0) checkUsage(dir, limit, files);
    const swap = swapMax(limit, m.swap ?? 0);
    if (swap !== undefined) {
      // No memory.swap.max means no swap: "no swap" and "any swap" are then both true already.
      if (files.exists(dir, "memory.swap.max") || (swap !== "max" && swap !== "0")) {
        files.write(dir, "memory.swap.max", swap, `${S}.swap`);
      }
    }
    if (limit) files.write(dir, "memory.max", limit === -1 ? "max" : int(`${S}.limit`, limit), `${S}.limit`);
    if (m.reservation) {
      files.write(dir, "memory.low", m.reservation === -1 ? "max" : int(`${S}.reservation`, m.reservation), `${S}.reservation`);
    }
  },
};

/** OCI swap is memory+swap; v2 limits swap alone (runc's ConvertMemorySwapToCgroupV2Value). undefined = leave alone. */
export function swapMax(limit: number, swap: number): string | undefined {
  if (limit === -1 && swap === 0) return "max";
  if (swap === -1) return "max";
  if (swap === 0) return undefined;
  if (limit === 0 || limit === -1) throw invalidArgument(`${S}.swap: a swap limit needs a memory limit`);
  if (swap < limit) throw invalidArgument(`${S}.swap ${swap} must be >= ${S}.limit ${limit} (it counts memory+swap)`);
  return String(swap - limit);
}

function checkUsage(dir: string, limit: number, files: CgroupFiles): void {
  const usage = parseLimit(files.readIfExists(dir, "memory.current"));
  if (usage > limit) {
    throw failedPrecondition(`${S}.limit: cannot set the memory limit to ${limit}, below the current usage ${usage}`);
  }
}
