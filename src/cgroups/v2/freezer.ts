// v2 freezer: the core files cgroup.freeze and cgroup.events.
import { failedPrecondition, unavailable } from "../../errors.js";
import { keyedValue, sleepMs, type CgroupFiles } from "../files.js";

const TIMEOUT_MS = 2000;

/** Write cgroup.freeze=1 and wait for cgroup.events "frozen 1"; thaw back and throw on timeout. */
export function freeze(dir: string, files: CgroupFiles): void {
  if (!files.exists(dir, "cgroup.freeze")) throw unavailable("pause: this kernel has no cgroup v2 freezer (needs Linux 5.2)");
  files.write(dir, "cgroup.freeze", "1", "pause");
  for (let waited = 0, delay = 1; waited < TIMEOUT_MS; waited += delay, delay = Math.min(delay * 2, 50)) {
    if (isFrozen(dir, files)) return;
    sleepMs(delay);
  }
  if (isFrozen(dir, files)) return;
  files.write(dir, "cgroup.freeze", "0", "pause");
  throw failedPrecondition(`pause: cgroup ${dir} did not freeze within ${TIMEOUT_MS / 1000}s; thawed it back`);
}

export function thaw(dir: string, files: CgroupFiles): void {
  files.write(dir, "cgroup.freeze", "0", "resume");
}

export function isFrozen(dir: string, files: CgroupFiles): boolean {
  return keyedValue(files.readIfExists(dir, "cgroup.events"), "frozen") === 1;
}
