// COPY and ADD into a build container's root file system, with Docker's destination rules:
//  - a destination ending in "/" (or ".", or several sources) is a directory, made if missing;
//  - several sources need such a destination;
//  - a source directory's content (not the directory itself) goes into the destination;
//  - a single file goes to the destination path itself, or inside it when that is an existing
//    directory;
//  - a relative destination is relative to WORKDIR; missing parents are made (0755, root's
//    or --chown's).
// Everything is resolved inside the root: a symlink in the image cannot send a file to the host.
import * as fs from "node:fs";
import path from "node:path";
import { invalidArgument } from "../errors.js";
import { resolveInside, type Source } from "./context.js";

export interface CopyOwner {
  uid: number;
  gid: number;
}

export interface CopyOptions {
  /** --chown: every copied entry gets these owners; undefined keeps the sources' (COPY --from) or makes them root's (context) */
  owner?: CopyOwner;
  /** keep the sources' owners when no owner is given (COPY --from) */
  keepOwners: boolean;
  /** --chmod */
  mode?: number;
  /** excluded paths (relative to the source root), for context sources */
  ignored: (rel: string) => boolean;
}

export interface Placement {
  source: Source;
  /** the path inside the root it goes to (absolute, not yet resolved) */
  dest: string;
  /** a directory source: its content goes into dest */
  contents: boolean;
}

/** Where each source goes, by Docker's rules; `isDir(p)` tells whether a root path is an existing directory. */
export function placeSources(sources: Source[], dest: string, workdir: string, isDir: (p: string) => boolean, what: string, sourceIsDir: (s: Source) => boolean): Placement[] {
  const abs = dest.startsWith("/") ? dest : path.posix.join(workdir || "/", dest);
  const dirDest = dest.endsWith("/") || dest === "." || dest.endsWith("/.") || sources.length > 1;
  if (sources.length > 1 && !(dest.endsWith("/") || dest === "." || dest.endsWith("/."))) {
    throw invalidArgument(`${what}: when using ${what.split(" ")[0]} with more than one source file, the destination must be a directory and end with a /`);
  }
  const clean = path.posix.normalize(abs);
  return sources.map((s) => {
    if (sourceIsDir(s)) return { source: s, dest: clean, contents: true };
    const base = path.posix.basename(s.rel || s.host);
    if (dirDest || isDir(clean)) return { source: s, dest: path.posix.join(clean, base), contents: false };
    return { source: s, dest: clean, contents: false };
  });
}

/** Makes the directories of `parts` inside root that are missing (0755, root), returning the host path. */
export function mkdirInside(root: string, dir: string, owner?: CopyOwner): string {
  let cur = "";
  for (const c of dir.split("/").filter(Boolean)) {
    cur = cur ? `${cur}/${c}` : c;
    const host = resolveInside(root, cur, dir, false);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (!st) {
      fs.mkdirSync(host, { mode: 0o755 });
      fs.chmodSync(host, 0o755);
      if (owner) fs.lchownSync(host, owner.uid, owner.gid);
    } else if (!st.isDirectory()) throw invalidArgument(`${dir}: /${cur} is not a directory`);
  }
  return resolveInside(root, dir, dir, false);
}

function applyMeta(host: string, st: fs.Stats, opts: CopyOptions): void {
  const uid = opts.owner?.uid ?? (opts.keepOwners ? st.uid : 0);
  const gid = opts.owner?.gid ?? (opts.keepOwners ? st.gid : 0);
  fs.lchownSync(host, uid, gid);
  if (!st.isSymbolicLink()) {
    fs.chmodSync(host, opts.mode ?? st.mode & 0o7777);
    fs.utimesSync(host, st.atime, st.mtime);
  }
}

/** Copies one source entry (recursively) to the host path `to`, replacing a non-directory there. */
function copyEntry(from: string, rel: string, to: string, opts: CopyOptions): void {
  const st = fs.lstatSync(from);
  const there = fs.lstatSync(to, { throwIfNoEntry: false });
  if (st.isDirectory()) {
    if (there && !there.isDirectory()) fs.rmSync(to, { force: true });
    if (!there || !there.isDirectory()) fs.mkdirSync(to);
    for (const n of fs.readdirSync(from).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (opts.ignored(r)) continue;
      copyEntry(path.join(from, n), r, path.join(to, n), opts);
    }
    applyMeta(to, st, opts);
    return;
  }
  if (there) fs.rmSync(to, { recursive: true, force: true });
  if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
  else if (st.isFile()) fs.copyFileSync(from, to);
  else return; // sockets, devices, fifos in a context are not copied
  applyMeta(to, st, opts);
}

/** Carries out placements in `root` (the build container's mounted file system). */
export function copyInto(root: string, placements: Placement[], opts: CopyOptions): void {
  for (const p of placements) {
    if (p.contents) {
      // directories the copy makes belong to --chown's user too (BuildKit); existing ones stay as they are
      const to = mkdirInside(root, p.dest, opts.owner);
      for (const n of fs.readdirSync(p.source.host).sort()) {
        const r = p.source.rel ? `${p.source.rel}/${n}` : n;
        if (opts.ignored(r)) continue;
        copyEntry(path.join(p.source.host, n), r, path.join(to, n), opts);
      }
      continue;
    }
    const parent = mkdirInside(root, path.posix.dirname(p.dest), opts.owner);
    // the last component: a symlink there is replaced, not followed (Docker writes the file)
    copyEntry(p.source.host, p.source.rel, path.join(parent, path.posix.basename(p.dest)), opts);
  }
}

/** Whether a path inside the root is an existing directory (symlinks followed inside the root). */
export function isDirInside(root: string, p: string): boolean {
  try {
    return fs.statSync(resolveInside(root, p, p, false)).isDirectory();
  } catch {
    return false;
  }
}
