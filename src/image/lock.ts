// Lock files shared by berth processes: the owner's pid plus start time, so a reused pid is
// not mistaken for the owner, taken with link(2) so a lock is created whole and atomically,
// and taken over from a dead owner without two processes both deleting it.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { BerthError, conflict, failedPrecondition } from "../errors.js";

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

// ---- who owns a lock or temp file: pid plus start time, so a reused pid is not mistaken ----

export function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]; // field 22, starttime
  } catch {
    return undefined;
  }
}

let self: string | undefined;
export function owner(): string {
  self ??= [process.pid, startTime(process.pid)].filter((x) => x !== undefined).join(" ");
  return self;
}

/** Whether the process that wrote `token` ("pid" or "pid starttime") still runs. */
export function ownerAlive(token: string): boolean {
  const m = /^(\d+)(?:[ -](\d+))?$/.exec(token.trim());
  if (!m) return false;
  const pid = Number(m[1]);
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (errno(e) !== "EPERM") return false;
  }
  const start = startTime(pid);
  return m[2] === undefined || start === undefined || start === m[2];
}

export function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if (errno(e) === "ENOENT") return undefined;
    throw e;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function unlinkQuiet(file: string): void {
  fs.rmSync(file, { force: true });
}

/**
 * Takes `file` as an exclusive lock holding our owner token. link(2) creates it complete and
 * atomically (O_EXCL semantics); a lock whose owner is dead is taken over. A live owner
 * makes it fail at once, or after `waitMs` of waiting for it.
 */
export function acquireLock(file: string, what: string, opts: { waitMs?: number } = {}): void {
  const mine = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  fs.writeFileSync(mine, owner());
  try {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        fs.linkSync(mine, file);
        return;
      } catch (e) {
        if (errno(e) !== "EEXIST") throw e;
      }
      const holder = readText(file);
      if (holder === undefined) continue; // released meanwhile
      if (ownerAlive(holder)) {
        if (Date.now() < deadline) {
          attempt = 0; // a live holder: wait for it rather than counting takeover attempts
          sleepSync(5);
          continue;
        }
        throw failedPrecondition(`${what}: in use by process ${holder.trim().split(/[ -]/)[0]}`, "another berth process is writing it; wait for it to finish");
      }
      if (!removeStaleLock(file, holder, mine)) sleepSync(2);
    }
    throw conflict(`${what}: could not take over its stale lock ${file}`);
  } finally {
    unlinkQuiet(mine);
  }
}

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` holding `file` as a lock shared by every berth process, and in order with this
 * process's other holders of it (the warm service serves several commands at once: they
 * queue here rather than wait for their own pid's lock). Waits without blocking the event
 * loop; a holder that died is taken over, a live one waited for up to `waitMs`.
 */
export async function withLock<T>(file: string, what: string, fn: () => Promise<T>, opts: { waitMs?: number } = {}): Promise<T> {
  const before = queues.get(file) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = before.then(() => mine);
  queues.set(file, tail);
  try {
    await before;
    const deadline = Date.now() + (opts.waitMs ?? 60_000);
    for (;;) {
      try {
        acquireLock(file, what);
        break;
      } catch (e) {
        if (!(e instanceof BerthError) || e.kind !== "FailedPrecondition" || Date.now() >= deadline) throw e;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    try {
      return await fn();
    } finally {
      unlinkQuiet(file);
    }
  } finally {
    release();
    if (queues.get(file) === tail) queues.delete(file);
  }
}

// Compare-and-delete under a guard: without it, two processes that both saw the dead owner
// could each delete the stale lock, the second deleting the first's fresh one. The guard is
// held for microseconds; one left by a process that died holding it is removed.
function removeStaleLock(file: string, holder: string, mine: string): boolean {
  const guard = `${file}.takeover`;
  try {
    fs.linkSync(mine, guard);
  } catch (e) {
    if (errno(e) !== "EEXIST") throw e;
    const g = readText(guard);
    if (g !== undefined && !ownerAlive(g)) unlinkQuiet(guard);
    return false;
  }
  try {
    if (readText(file) === holder) unlinkQuiet(file);
    return true;
  } finally {
    unlinkQuiet(guard);
  }
}

