// RUN --mount, as BuildKit has it: type=bind (files of the build context, a stage or an image;
// read-only, or with rw writable and its writes thrown away), type=cache (a directory kept from
// one build to the next under <root>/build-cache, found again by its id), type=tmpfs. secret and
// ssh are refused: berth build has no --secret or --ssh. Mount points the runtime had to make in
// the step's file system are removed after the command, so they are not in its layer.
import * as fs from "node:fs";
import path from "node:path";
import { invalidArgument } from "../errors.js";

export interface RunMount {
  type: "bind" | "cache" | "tmpfs";
  /** absolute, in the container */
  target: string;
  /** bind: the path in the context or in `from` ("" for its root) */
  source: string;
  /** bind: a stage's name or index, or an image */
  from?: string;
  readonly: boolean;
  /** cache: what finds the directory again (default: the target) */
  id: string;
  /** cache: shared (any number of steps at once), locked and private (one step at a time) */
  sharing: "shared" | "private" | "locked";
  /** cache: the new directory's mode and owner */
  mode: number;
  uid: number;
  gid: number;
  /** tmpfs: its size in bytes (default: the kernel's, half the memory) */
  size?: number;
}

const KEYS: Record<RunMount["type"], string[]> = {
  bind: ["source", "from", "readonly", "readwrite"],
  cache: ["id", "sharing", "mode", "uid", "gid", "readonly", "readwrite"],
  tmpfs: ["size"],
};
const ALIASES: Record<string, string> = { src: "source", dst: "target", destination: "target", ro: "readonly", rw: "readwrite" };

/** A `--mount=` value's comma-separated `key=value` (or bare `key`) fields, keys in their long names. */
function mountFields(value: string): Map<string, string | undefined> {
  const fields = new Map<string, string | undefined>();
  for (const part of value.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const raw = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    fields.set(ALIASES[raw] ?? raw, eq < 0 ? undefined : part.slice(eq + 1));
  }
  return fields;
}

/** One `--mount=` value (expanded already); a relative target is under `workdir`. */
export function parseRunMount(value: string, workdir: string): RunMount {
  const what = `RUN --mount=${value}`;
  const fields = mountFields(value);
  const type = fields.get("type") ?? "bind";
  if (type === "secret" || type === "ssh") throw invalidArgument(`${what}: type=${type} is not supported by berth build (it has no --${type})`);
  if (type !== "bind" && type !== "cache" && type !== "tmpfs") throw invalidArgument(`${what}: type ${JSON.stringify(type)}: expected bind, cache or tmpfs`);
  for (const k of fields.keys()) {
    if (k !== "type" && k !== "target" && !KEYS[type].includes(k)) throw invalidArgument(`${what}: ${JSON.stringify(k)} is not an option of a ${type} mount`);
  }
  const bool = (k: string): boolean | undefined => {
    if (!fields.has(k)) return undefined;
    const v = fields.get(k);
    if (v === undefined || v === "true") return true;
    if (v === "false") return false;
    throw invalidArgument(`${what}: ${k}=${v}: expected true or false`);
  };
  const int = (k: string, def: number, re: RegExp, base: number): number => {
    const v = fields.get(k);
    if (v === undefined) return def;
    if (!re.test(v)) throw invalidArgument(`${what}: ${k}=${v}: expected ${base === 8 ? "an octal mode such as 0755" : "a number"}`);
    return parseInt(v, base);
  };
  const t = fields.get("target");
  if (!t) throw invalidArgument(`${what}: a target is required`);
  const target = path.posix.normalize(t.startsWith("/") ? t : path.posix.join(workdir || "/", t));
  if (target === "/") throw invalidArgument(`${what}: the target cannot be /`);
  const rw = bool("readwrite");
  const ro = bool("readonly");
  const sharing = fields.get("sharing") ?? "shared";
  if (sharing !== "shared" && sharing !== "private" && sharing !== "locked") throw invalidArgument(`${what}: sharing=${sharing}: expected shared, private or locked`);
  let size: number | undefined;
  const s = fields.get("size");
  if (s !== undefined) {
    const m = /^(\d+)([kmg]?)b?$/i.exec(s);
    if (!m) throw invalidArgument(`${what}: size=${s}: expected a size such as 64m`);
    size = Number(m[1]) * 1024 ** " kmg".indexOf((m[2] || " ").toLowerCase());
  }
  return {
    type,
    target,
    source: path.posix.normalize("/" + (fields.get("source") ?? "")).slice(1),
    ...(fields.get("from") ? { from: fields.get("from") } : {}),
    // a bind is read-only unless rw; a cache writable unless ro
    readonly: type === "bind" ? rw !== true && ro !== false : ro === true || rw === false,
    id: fields.get("id") || target,
    sharing,
    mode: int("mode", 0o755, /^[0-7]{1,4}$/, 8),
    uid: int("uid", 0, /^\d+$/, 10),
    gid: int("gid", 0, /^\d+$/, 10),
    ...(size !== undefined ? { size } : {}),
  };
}

/** The `from=` of a RUN's mounts (stages it needs built first), before expansion. */
export function mountFroms(values: string[]): string[] {
  return values.map((v) => mountFields(v).get("from")).filter((f): f is string => !!f);
}

/**
 * The directories (and files) on the way to each target that `root` lacks now: the runtime
 * makes them as mount points, and `removeStubs` takes them away after the command.
 */
export function missingStubs(root: string, targets: string[]): string[] {
  const stubs: string[] = [];
  for (const t of targets) {
    let p = root;
    for (const c of t.split("/").filter(Boolean)) {
      p = path.join(p, c);
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) {
        stubs.push(p);
        continue;
      }
      if (!st.isDirectory()) break; // a symlink or a file: the runtime resolves it; nothing of ours below
    }
  }
  return [...new Set(stubs)];
}

/** Removes the mount points the runtime made, deepest first, where they are still empty. */
export function removeStubs(stubs: string[]): void {
  for (const p of [...stubs].sort((a, b) => b.length - a.length)) {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    try {
      if (st?.isDirectory()) fs.rmdirSync(p);
      else if (st?.isFile() && st.size === 0) fs.unlinkSync(p);
    } catch {
      // the command put something there: it stays, as it would in BuildKit
    }
  }
}
