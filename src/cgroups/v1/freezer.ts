// v1 freezer controller: freezer.state.
import { failedPrecondition, internal } from "../../errors.js";
import { sleepMs, type CgroupFiles } from "../files.js";

const STATE = "freezer.state";

/**
 * Write FROZEN until it reads FROZEN. A v1 cgroup can stay FREEZING while processes
 * keep forking into it, so retry, thawing now and then (runc's empirical loop), and
 * never leave it FREEZING: thaw back before giving up.
 */
export function freeze(dir: string, files: CgroupFiles): void {
  try {
    for (let i = 0; i < 1000; i++) {
      if (i % 50 === 49) {
        files.write(dir, STATE, "THAWED", "pause");
        sleepMs(10);
      }
      files.write(dir, STATE, "FROZEN", "pause");
      if (i % 25 === 24) sleepMs(1);
      const state = files.read(dir, STATE);
      if (state === "FROZEN") return;
      if (state !== "FREEZING") throw internal(`pause: ${dir}/${STATE} reads ${state} while freezing`);
    }
    throw failedPrecondition(`pause: cgroup ${dir} stayed FREEZING; thawed it back`);
  } catch (err) {
    try {
      files.write(dir, STATE, "THAWED", "pause");
    } catch {
      // Report the original failure.
    }
    throw err;
  }
}

export function thaw(dir: string, files: CgroupFiles): void {
  files.write(dir, STATE, "THAWED", "resume");
}

export function isFrozen(dir: string, files: CgroupFiles): boolean {
  return files.readIfExists(dir, STATE) === "FROZEN";
}
