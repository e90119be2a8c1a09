// The thin system surface: everything in src/ that asks the kernel about processes goes here.
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { getSystemErrorMap } from "node:util";

/** "permission denied" for EACCES: lower-case, as Go and runc print system errors. */
export function errnoMessage(errno: number): string {
  const entry = getSystemErrorMap().get(-Math.abs(errno));
  return entry ? entry[1] : `errno ${errno}`;
}

export interface ProcStat {
  state: string;
  /** field 22 of /proc/<pid>/stat: start time in clock ticks since boot; identifies a process across pid reuse */
  startTime: string;
  ppid: number;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // the command name may contain spaces and parentheses: fields start after the last ')'
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0], ppid: Number(rest[1]), startTime: rest[19] };
}

/** true while the process with this pid and start time exists and is not a zombie */
export function processAlive(pid: number, startTime?: string): boolean {
  const st = procStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return false;
  return startTime === undefined || st.startTime === startTime;
}

/** A signal name ("KILL", "SIGKILL") or number ("9") -> its number. */
export function signalNumber(sig: string | number): number | undefined {
  if (typeof sig === "number") return Number.isInteger(sig) && sig > 0 && sig < 65 ? sig : undefined;
  const s = sig.trim().toUpperCase();
  if (/^\d+$/.test(s)) return signalNumber(Number(s));
  const name = (s.startsWith("SIG") ? s : "SIG" + s) as keyof typeof constants.signals;
  const rt = /^SIGRTMIN(\+(\d+))?$/.exec(name);
  if (rt) return 34 + Number(rt[2] ?? 0) <= 64 ? 34 + Number(rt[2] ?? 0) : undefined;
  const rtmax = /^SIGRTMAX(-(\d+))?$/.exec(name);
  if (rtmax) return 64 - Number(rtmax[2] ?? 0) >= 34 ? 64 - Number(rtmax[2] ?? 0) : undefined;
  return constants.signals[name];
}

export function sendSignal(pid: number, signal: number): void {
  process.kill(pid, signal);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export * from "./native.js";

/** One line of /proc/self/uid_map or gid_map: ids inside from `inside`, `count` of them, at `outside` on the host. */
export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

const FULL_MAP = 4294967295;
let ownMaps: { uid: IdRange[]; gid: IdRange[] } | undefined;

/** This process's user namespace maps (the initial namespace's is the identity over every id). */
export function ownIdMaps(): { uid: IdRange[]; gid: IdRange[] } {
  const read = (f: string): IdRange[] => {
    try {
      return readFileSync(f, "utf8")
        .trim()
        .split("\n")
        .map((l) => l.trim().split(/\s+/).map(Number))
        .map(([inside, outside, count]) => ({ inside, outside, count }));
    } catch {
      return [{ inside: 0, outside: 0, count: FULL_MAP }];
    }
  };
  ownMaps ??= { uid: read("/proc/self/uid_map"), gid: read("/proc/self/gid_map") };
  return ownMaps;
}

/** True in a user namespace other than the host's: root there is not the host's root (no cgroups, no mknod). */
export function inUserNamespace(): boolean {
  const m = ownIdMaps().uid;
  return !(m.length === 1 && m[0].inside === 0 && m[0].outside === 0 && m[0].count === FULL_MAP);
}

/** An unprivileged caller: not root, or root only of a user namespace (as runc's userns.RunningInUserNS). */
export function isRootless(): boolean {
  return process.geteuid?.() !== 0 || inUserNamespace();
}
