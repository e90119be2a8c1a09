// cp: files between a container (running, stopped or only created) and the host, with Docker's
// rules. A directory copied to an existing directory goes inside it, `SRC/.` copies only its
// content, a missing DEST becomes the copy; `-a` keeps owners (else the receiving side's root,
// or the user who runs berth on the host), `-L` follows a symlink SRC. Every copy is a tar
// stream from the source extracted, confined, into a directory on the other side, so that no
// symlink or `..` in the container leads out of its root; a running container is paused
// meanwhile, so that it cannot change a path between our checking and our using it.
import * as fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { BerthError, failedPrecondition, invalidArgument, notFound } from "../../errors.js";
import { applyLayer, tarTree, type IdMap } from "../../image/index.js";
import type { EngineContext } from "../context.js";
import type { HostConfig } from "../options.js";
import { hostPath, mountOf, openRootfs, resolveIn, type Resolved, type Rootfs } from "./rootfs.js";

export interface CopyOptions {
  /** `-a`: keep the source's owners */
  archive?: boolean;
  /** `-L`: follow SRC when it is a symlink */
  followLink?: boolean;
}

/** What is copied: a file system object, and the name its copy gets ("" = only its content). */
interface Source {
  path: string;
  isDir: boolean;
  /** `SRC/.`: the content of the directory, not the directory */
  contents: boolean;
  base: string;
}

interface Target {
  shown: string;
  exists: boolean;
  isDir: boolean;
  /** `DEST/`: must be a directory */
  slash: boolean;
}

const endsWithDot = (p: string) => p === "." || p.endsWith("/.");
const baseName = (p: string) => path.posix.basename(p.replace(/\/+$/, ""));

/** Where a copy lands: in DEST (as `name`, "" = spread into it) or in DEST's parent as DEST. */
function placement(src: Source, dest: Target): { into: "dest" | "parent"; name: string } {
  if (dest.exists && dest.isDir) return { into: "dest", name: src.contents ? "" : src.base };
  if (dest.exists) {
    if (src.isDir) throw invalidArgument(`cannot copy a directory onto ${dest.shown}: it is not a directory`);
    if (dest.slash) throw invalidArgument(`${dest.shown}: not a directory`);
    return { into: "parent", name: "" };
  }
  if (dest.slash && !src.isDir) throw notFound(`destination directory ${dest.shown} does not exist`);
  return { into: "parent", name: "" };
}

function checkContents(src: Source, shown: string): void {
  if (shown.endsWith("/") && !src.isDir) throw invalidArgument(`${shown}: not a directory`);
  if (src.contents && !src.isDir) throw invalidArgument(`${shown}: not a directory (SRC/. copies a directory's content)`);
}

function ownerMap(opts: CopyOptions, uid: number, gid: number): IdMap | undefined {
  return opts.archive ? undefined : () => [uid, gid];
}

/** resolveIn, where a missing path is Docker's "Could not find the file". */
function resolveInContainer(fsr: Rootfs, ref: string, p: string, followLast: boolean): Resolved {
  try {
    return resolveIn(fsr, p, followLast);
  } catch (e) {
    if (e instanceof BerthError && e.kind === "NotFound") throw notFound(`Could not find the file ${p} in container ${ref}`);
    throw e;
  }
}

/** A path inside the container, resolved in its root. */
function containerSource(fsr: Rootfs, ref: string, src: string, opts: CopyOptions): Source {
  const r = resolveInContainer(fsr, ref, src, opts.followLink === true || endsWithDot(src) || src.endsWith("/"));
  if (!r.st) throw notFound(`Could not find the file ${src} in container ${ref}`);
  const s: Source = { path: r.path, isDir: r.st.isDirectory(), contents: endsWithDot(src), base: baseName(src) };
  checkContents(s, `${ref}:${src}`);
  return s;
}

function hostSource(src: string, opts: CopyOptions): Source {
  const follow = opts.followLink === true || endsWithDot(src) || src.endsWith("/");
  const st = follow ? fs.statSync(src, { throwIfNoEntry: false }) : fs.lstatSync(src, { throwIfNoEntry: false });
  if (!st) throw notFound(`${src}: no such file or directory`);
  const s: Source = { path: follow ? fs.realpathSync(src) : src, isDir: st.isDirectory(), contents: endsWithDot(src), base: baseName(path.resolve(src)) };
  checkContents(s, src);
  return s;
}

/** Refuses to write at `parts` (resolved) when the container sees it read-only. */
function writable(fsr: Rootfs, ref: string, parts: string[]): void {
  const m = mountOf(fsr, parts);
  if (m?.readonly) throw failedPrecondition(`container ${ref}: /${m.parts.join("/")} is mounted read-only`);
  if (!m && (JSON.parse(fsr.row.config) as HostConfig).readOnly) throw failedPrecondition(`container ${ref}: its root filesystem is read-only`);
}

/** Copies SRC inside the container to DEST on the host. */
export async function copyFrom(ctx: EngineContext, ref: string, src: string, dest: string, opts: CopyOptions = {}): Promise<void> {
  const fsr = openRootfs(ctx, ref, { freeze: true });
  try {
    const s = containerSource(fsr, ref, src, opts);
    const st = fs.statSync(dest, { throwIfNoEntry: false });
    const { into, name } = placement(s, { shown: dest, exists: st !== undefined, isDir: st?.isDirectory() ?? false, slash: dest.endsWith("/") });
    let dir = dest;
    let top = name;
    if (into === "parent") {
      dir = path.dirname(path.resolve(dest));
      top = path.basename(path.resolve(dest));
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw notFound(`${dest}: no such directory ${dir}`);
    }
    await applyLayer(dir, tarTree(s.path, top), { whiteouts: "none", idMap: ownerMap(opts, process.getuid?.() ?? 0, process.getgid?.() ?? 0) });
  } finally {
    fsr.release();
  }
}

/** SRC inside the container as a tar stream (`berth cp CONTAINER:SRC -`); the container's owners kept. */
export function archiveFrom(ctx: EngineContext, ref: string, src: string, opts: CopyOptions = {}): Readable {
  const fsr = openRootfs(ctx, ref, { freeze: true });
  let s: Source;
  try {
    s = containerSource(fsr, ref, src, opts);
  } catch (e) {
    fsr.release();
    throw e;
  }
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      for await (const c of tarTree(s.path, s.contents ? "" : s.base || ".")) yield c as Buffer;
    } finally {
      fsr.release();
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}

/** Copies SRC on the host to DEST inside the container. */
export async function copyTo(ctx: EngineContext, ref: string, src: string, dest: string, opts: CopyOptions = {}): Promise<void> {
  const s = hostSource(src, opts);
  const fsr = openRootfs(ctx, ref, { freeze: true });
  try {
    const d = resolveInContainer(fsr, ref, dest, true);
    writable(fsr, ref, d.parts);
    const { into, name } = placement(s, { shown: `${ref}:${dest}`, exists: d.st !== undefined, isDir: d.st?.isDirectory() ?? false, slash: dest.endsWith("/") });
    // into the parent: the resolved DEST's own name (DEST may have been a symlink), which resolveIn checked is a directory
    const dir = into === "dest" ? d.path : hostPath(fsr, d.parts.slice(0, -1));
    const top = into === "dest" ? name : d.parts.at(-1);
    if (top === undefined) throw invalidArgument(`${ref}:${dest}: cannot replace the container's root directory`);
    await applyLayer(dir, tarTree(s.path, top), { whiteouts: "none", idMap: ownerMap(opts, 0, 0) });
  } finally {
    fsr.release();
  }
}

/** Extracts a tar stream into the directory DEST inside the container (`berth cp - CONTAINER:DEST`). */
export async function archiveTo(ctx: EngineContext, ref: string, dest: string, input: Readable, opts: CopyOptions = {}): Promise<void> {
  const fsr = openRootfs(ctx, ref, { freeze: true });
  try {
    const d = resolveInContainer(fsr, ref, dest, true);
    writable(fsr, ref, d.parts);
    if (!d.st) throw notFound(`Could not find the file ${dest} in container ${ref}`);
    if (!d.st.isDirectory()) throw invalidArgument(`${ref}:${dest}: must be a directory to extract an archive into`);
    await applyLayer(d.path, input, { whiteouts: "none", idMap: ownerMap(opts, 0, 0) });
  } finally {
    fsr.release();
  }
}
