// diff: what changed in a container's file system since it was made from its image, as
// `docker diff` shows it: A (added), C (changed), D (deleted), one line per path. Read from
// the container's writable snapshot as a layer (overlay whiteouts are deletions, an opaque
// directory hides everything its image had below it) and told A from C by the image's layers.
import * as fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, TAR_END, WHITEOUT_PREFIX, readTar, tarHeader, tarPadding, type TarEntry } from "../../image/index.js";
import { lgetxattr } from "../../sys/index.js";
import type { EngineContext } from "../context.js";
import { lookup } from "./lookup.js";

export interface FsChange {
  kind: "A" | "C" | "D";
  /** absolute, as inside the container */
  path: string;
}

const lstat = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false });
const isWhiteout = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;
const opaque = (p: string) => lgetxattr(p, OVERLAY_OPAQUE_XATTR)?.toString() === "y";

/**
 * The empty files the runtime makes as mount points for the files berth writes for each container
 * (start.ts): not the user's changes, so neither diff nor commit shows them (Docker keeps
 * them in a hidden init layer).
 */
const ENGINE_FILES = new Set(["etc/hosts", "etc/hostname", "etc/resolv.conf"]);

function engineFile(e: TarEntry, lowers: string[]): boolean {
  const parts = e.name.split("/").filter((c) => c !== "" && c !== ".");
  return e.type === "file" && e.size === 0 && ENGINE_FILES.has(parts.join("/")) && !inLowers(lowers, parts);
}

/** A container's layer (snapshots.diff) without the runtime's mount points. */
export function userChanges(layer: Readable, lowers: string[]): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    for await (const e of readTar(layer)) {
      if (engineFile(e, lowers)) continue;
      yield tarHeader(e);
      if (e.type !== "file") continue;
      for await (const c of e.body) yield c;
      yield tarPadding(e.size);
    }
    yield TAR_END;
  }
  return Readable.from(bytes(), { objectMode: false });
}

/** Whether `parts` exists in the union of `lowers` (nearest first, overlay whiteouts and opaque directories honoured). */
function inLowers(lowers: string[], parts: string[]): boolean {
  for (const l of lowers) {
    for (let i = 1; i <= parts.length; i++) {
      const p = path.join(l, ...parts.slice(0, i));
      const st = lstat(p);
      if (!st) break; // not in this layer: maybe below
      if (isWhiteout(st)) return false;
      if (i === parts.length) return true;
      if (!st.isDirectory()) return false; // a file here hides whatever lies below
      if (opaque(p)) {
        if (!lstat(path.join(l, ...parts))) return false;
      }
    }
  }
  return false;
}

/** The names below directory `parts` in the union of `lowers`. */
function lowerChildren(lowers: string[], parts: string[]): string[] {
  const names = new Set<string>();
  for (const l of lowers) {
    const p = path.join(l, ...parts);
    if (!lstat(p)?.isDirectory()) continue;
    for (const n of fs.readdirSync(p)) if (inLowers(lowers, [...parts, n])) names.add(n);
  }
  return [...names];
}

export async function diff(ctx: EngineContext, ref: string): Promise<FsChange[]> {
  const row = lookup(ctx, ref);
  const snaps = ctx.images.snapshots;
  const lowers = snaps.lowerDirs(row.id);
  const out = new Map<string, FsChange["kind"]>();
  const opaqueDirs: string[][] = [];
  for await (const e of readTar(snaps.diff(row.id))) {
    const parts = e.name.split("/").filter((c) => c !== "" && c !== ".");
    const base = parts.at(-1);
    if (base === undefined || engineFile(e, lowers)) continue; // the root itself, a mount point
    if (base === OPAQUE_WHITEOUT) opaqueDirs.push(parts.slice(0, -1));
    else if (base.startsWith(WHITEOUT_PREFIX)) out.set("/" + [...parts.slice(0, -1), base.slice(WHITEOUT_PREFIX.length)].join("/"), "D");
    else out.set("/" + parts.join("/"), inLowers(lowers, parts) ? "C" : "A");
  }
  // an opaque directory: what the image had below it is gone unless written again
  for (const dir of opaqueDirs) {
    for (const n of lowerChildren(lowers, dir)) {
      const p = "/" + [...dir, n].join("/");
      if (!out.has(p)) out.set(p, "D");
    }
  }
  // a directory changed only by them (/etc) is not shown either
  for (const [p, kind] of out) {
    if (kind === "C" && [...ENGINE_FILES].some((f) => path.posix.dirname("/" + f) === p) && ![...out.keys()].some((k) => k.startsWith(p + "/"))) out.delete(p);
  }
  return [...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([p, kind]) => ({ kind, path: p }));
}
