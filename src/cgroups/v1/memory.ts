// v1 memory controller: memory.limit_in_bytes, memory.memsw.limit_in_bytes, soft limit, swappiness, OOM killer.
import { BerthError, failedPrecondition, invalidArgument, unavailable } from "../../errors.js";
import { RES, type Controller } from "../controller.js";
import { int, parseLimit, type CgroupFiles } from "../files.js";

const LIMIT = "memory.limit_in_bytes";
const MEMSW = "memory.memsw.limit_in_bytes";
const S = `${RES}.memory`;

export const memory: Controller = {
  name: "memory",
  requested(r) {
    const m = r.memory;
    if (!m) return undefined;
    for (const k of ["limit", "reservation", "swap", "swappiness"] as const) {
      if (m[k] !== undefined) int(`${S}.${k}`, m[k]);
    }
    if (m.swappiness !== undefined && m.swappiness !== -1 && (m.swappiness < 0 || m.swappiness > 100)) {
      throw invalidArgument(`${S}.swappiness ${m.swappiness} is out of range (0-100)`);
    }
    // kernel, kernelTCP and useHierarchy are deprecated and ignored, as runc does.
    if (m.limit) return `${S}.limit`;
    if (m.swap) return `${S}.swap`;
    if (m.reservation) return `${S}.reservation`;
    if (m.disableOOMKiller) return `${S}.disableOOMKiller`;
    if (m.swappiness !== undefined && m.swappiness !== -1) return `${S}.swappiness`;
    return undefined;
  },
  apply(dir, r, files) {
    const m = r.memory ?? {};
    setLimitAndSwap(dir, m.limit ?? 0, m.swap ?? 0, files);
    if (m.reservation) files.write(dir, "memory.soft_limit_in_bytes", int(`${S}.reservation`, m.reservation), `${S}.reservation`);
    if (m.disableOOMKiller) files.write(dir, "memory.oom_control", "1", `${S}.disableOOMKiller`);
    if (m.swappiness !== undefined && m.swappiness !== -1) {
      files.write(dir, "memory.swappiness", int(`${S}.swappiness`, m.swappiness), `${S}.swappiness`);
    }
  },
};

// The kernel keeps memsw >= limit at every step, so the order of the two writes
// depends on whether we are raising or lowering (runc's setMemoryAndSwap).
function setLimitAndSwap(dir: string, limit: number, swap: number, files: CgroupFiles): void {
  // Unlimited memory with swap unset means unlimited swap too.
  if (limit === -1 && swap === 0 && files.exists(dir, MEMSW)) swap = -1;
  if (limit !== 0 && swap !== 0) {
    const current = parseLimit(files.read(dir, LIMIT));
    if (swap === -1 || (current !== -1 && current < swap)) {
      setSwap(dir, swap, files);
      setLimit(dir, limit, files);
      return;
    }
  }
  setLimit(dir, limit, files);
  setSwap(dir, swap, files);
}

function setLimit(dir: string, limit: number, files: CgroupFiles): void {
  if (limit === 0) return;
  try {
    files.write(dir, LIMIT, int(`${S}.limit`, limit), `${S}.limit`);
  } catch (err) {
    if (err instanceof BerthError && err.kind === "FailedPrecondition") {
      const usage = files.readIfExists(dir, "memory.usage_in_bytes");
      throw failedPrecondition(`${S}.limit: cannot set the memory limit to ${limit}, below the current usage ${usage}`);
    }
    throw err;
  }
}

function setSwap(dir: string, swap: number, files: CgroupFiles): void {
  if (swap === 0) return;
  if (!files.exists(dir, MEMSW)) {
    throw unavailable(`${S}.swap: swap accounting is off on this host (no ${MEMSW})`, "boot with swapaccount=1 or leave swap unset");
  }
  files.write(dir, MEMSW, int(`${S}.swap`, swap), `${S}.swap`);
}
