// Creating and removing cgroup directories; shared by both drivers.
import * as fs from "node:fs";
import * as path from "node:path";
import { BerthError, failedPrecondition } from "../errors.js";
import { errnoCode, fileError, sleepMs } from "./files.js";

/**
 * mkdir every level of `dir` below `mountPoint`, appending the ones made to `created`.
 * `visit(parent, child)` runs for each level (new or not), e.g. to let a child inherit cpusets.
 */
export function makeCgroupDirs(
  mountPoint: string,
  dir: string,
  created: string[],
  visit?: (parent: string, child: string) => void,
): void {
  const parts = path.relative(mountPoint, dir).split(path.sep).filter((p) => p !== "");
  // A concurrent destroy may remove a shared parent between our mkdirs: start again.
  for (let attempt = 0; ; attempt++) {
    let current = mountPoint;
    try {
      for (const part of parts) {
        const parent = current;
        current = path.join(current, part);
        try {
          fs.mkdirSync(current, 0o755);
          created.push(current);
        } catch (err) {
          if (errnoCode(err) !== "EEXIST") throw err;
        }
        visit?.(parent, current);
      }
      return;
    } catch (err) {
      // gone under us: a mkdir's parent, or the level `visit` was reading (it found it existing)
      const removed = errnoCode(err) === "ENOENT" || (err instanceof BerthError && !fs.existsSync(current));
      if (removed && attempt < 10 && fs.existsSync(mountPoint)) continue;
      if (err instanceof BerthError) throw err;
      throw fileError(err, `creating cgroup ${current}`);
    }
  }
}

/** rmdir `dir` after its sub-cgroups, retrying on EBUSY while exiting processes leave. Missing is fine. */
export function removeCgroupTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return;
    throw fileError(err, `listing cgroup ${dir}`);
  }
  for (const e of entries) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
  for (let delay = 10; ; delay *= 2) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || delay > 640) {
        if (code === "EBUSY") throw failedPrecondition(`cannot remove cgroup ${dir}: it still has processes`);
        throw fileError(err, `removing cgroup ${dir}`);
      }
      sleepMs(delay);
    }
  }
}

/**
 * rmdir the directories create() made that hold no other cgroup now (deepest first). Never
 * recursive: another create may make its cgroup in a shared parent at any moment, and a plain
 * rmdir of a parent with a child fails (EBUSY) where a recursive removal would take the child.
 */
export function removeEmptyParents(created: string[]): void {
  for (const dir of [...created].sort((a, b) => b.length - a.length)) {
    for (let delay = 10; ; delay *= 2) {
      try {
        // Another container's cgroup lives here: keep it.
        if (fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory())) break;
        fs.rmdirSync(dir);
        break;
      } catch (err) {
        // EBUSY: the child we just removed still dying, or a child made since the look above
        // (the next look tells); anything else (already gone): a parent is not worth failing destroy for
        if (errnoCode(err) !== "EBUSY" || delay > 640) break;
        sleepMs(delay);
      }
    }
  }
}

/** The pids in cgroup.procs of `dir` and of every sub-cgroup. */
export function procsIn(dir: string): number[] {
  let text: string;
  let entries: fs.Dirent[];
  try {
    text = fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8");
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw fileError(err, `reading ${dir}/cgroup.procs`);
  }
  const pids = text.split("\n").filter((l) => l.trim() !== "").map(Number);
  for (const e of entries) if (e.isDirectory()) pids.push(...procsIn(path.join(dir, e.name)));
  return pids;
}

/** Signal each pid, ignoring processes that already exited. */
export function signalAll(pids: number[], signal: NodeJS.Signals | number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if (errnoCode(err) !== "ESRCH") throw fileError(err, `signalling pid ${pid}`);
    }
  }
}

export function isKill(signal: NodeJS.Signals | number): boolean {
  return signal === "SIGKILL" || signal === 9;
}
