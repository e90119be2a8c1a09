// Making a layer: an uncompressed, deterministic tar of what changed (image-spec layer.md).
// diffLayer reads an overlay upper directory, whose whiteouts are overlayfs' own; diffTrees
// compares two full trees, for the copying snapshotter. Entries come depth first, each
// directory before its content, siblings in byte order of their names in the tar.
import type { BigIntStats } from "node:fs";
import * as fs from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { devMajor, devMinor, lgetxattr, llistxattr } from "../../sys/index.js";
import { OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, WHITEOUT_PREFIX, type IdMap } from "./apply.js";
import { TAR_END, tarHeader, tarPadding, type EntryType, type TarHeader } from "./tar.js";

export interface DiffOptions {
  /** maps the host's owner IDs back to the layer's (the inverse of applyLayer's) */
  idMap?: IdMap;
}

/** One tar entry to write: a file system object, or a whiteout (no stats). */
interface Change {
  name: string;
  path?: string;
  st?: BigIntStats;
  /** a whiteout's mtime, in seconds */
  mtime?: number;
}

const lstat = (p: string) => fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
const byName = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const join = (rel: string, name: string) => (rel ? `${rel}/${name}` : name);
const seconds = (st: BigIntStats) => Number(st.mtimeNs / 1_000_000_000n);

function entryType(st: BigIntStats): EntryType | undefined {
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isCharacterDevice()) return "char";
  if (st.isBlockDevice()) return "block";
  if (st.isFIFO()) return "fifo";
  return undefined; // sockets have no tar representation
}

/** The object's xattrs by name, without overlayfs' own. */
function xattrs(p: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of llistxattr(p).sort()) {
    if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
    const v = lgetxattr(p, name);
    if (v) out.set(name, v);
  }
  return out;
}

async function* content(p: string, size: number): AsyncGenerator<Buffer> {
  const fh = await open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    for (let left = size; left > 0; ) {
      const buf = Buffer.alloc(Math.min(left, 1 << 16));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      // a file that shrank while we read it is padded with zeros, so the header stays true
      const n = bytesRead || buf.length;
      left -= n;
      yield buf.subarray(0, n);
    }
  } finally {
    await fh.close();
  }
}

/** The tar bytes of a sequence of changes; inodes met twice become hardlinks to the first name. */
async function* tarOf(changes: Iterable<Change>, idMap?: IdMap): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  for (const c of changes) {
    const base = { name: c.name, mode: 0, uid: 0, gid: 0, size: 0, mtime: c.mtime ?? 0, linkname: "", devmajor: 0, devminor: 0, xattrs: new Map() };
    const st = c.st;
    const type = st && entryType(st);
    if (!st || !type) {
      if (!st) yield tarHeader({ ...base, type: "file" }); // a whiteout: an empty file
      continue;
    }
    const [uid, gid] = idMap ? idMap(Number(st.uid), Number(st.gid)) : [Number(st.uid), Number(st.gid)];
    const h: TarHeader = { ...base, type, mode: Number(st.mode & 0o7777n), uid, gid, mtime: seconds(st) };
    if (type !== "dir" && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) {
        yield tarHeader({ ...h, type: "link", linkname: first });
        continue;
      }
      links.set(key, c.name);
    }
    h.xattrs = xattrs(c.path!);
    if (type === "symlink") h.linkname = fs.readlinkSync(c.path!);
    if (type === "char" || type === "block") [h.devmajor, h.devminor] = [devMajor(st.rdev), devMinor(st.rdev)];
    if (type === "file") h.size = Number(st.size);
    yield tarHeader(h);
    if (type === "file") {
      yield* content(c.path!, h.size);
      yield tarPadding(h.size);
    }
  }
  yield TAR_END;
}

/** An overlay upper directory's changes: 0:0 character devices are whiteouts, opaque directories hide the lower ones' content. */
function* upperChanges(dir: string, rel: string): Generator<Change> {
  const items = fs.readdirSync(dir).map((name) => {
    const p = path.join(dir, name);
    const st = lstat(p)!;
    const whiteout = st.isCharacterDevice() && st.rdev === 0n;
    return { name: join(rel, whiteout ? WHITEOUT_PREFIX + name : name), path: p, st, whiteout };
  });
  for (const it of items.sort((a, b) => byName(a.name, b.name))) {
    if (it.whiteout) {
      yield { name: it.name, mtime: seconds(it.st) };
      continue;
    }
    yield it;
    if (!it.st.isDirectory()) continue;
    if (lgetxattr(it.path, OVERLAY_OPAQUE_XATTR)?.toString() === "y") yield { name: join(it.name, OPAQUE_WHITEOUT), mtime: seconds(it.st) };
    yield* upperChanges(it.path, it.name);
  }
}

/**
 * The layer of an overlay upper directory, as an uncompressed tar. The caller keeps the upper
 * directory still (unmounted or frozen) while it is read.
 */
export function diffLayer(upper: string, opts: DiffOptions = {}): Readable {
  return Readable.from(tarOf(upperChanges(upper, ""), opts.idMap), { objectMode: false });
}

function sameXattrs(a: string, b: string): boolean {
  const x = xattrs(a);
  const y = xattrs(b);
  return x.size === y.size && [...x].every(([k, v]) => y.get(k)?.equals(v));
}

/** Unchanged: same type, mode, owner, mtime and size (for non-directories), target, device and xattrs. */
function same(lo: BigIntStats, up: BigIntStats, loPath: string, upPath: string): boolean {
  if (lo.mode !== up.mode || lo.uid !== up.uid || lo.gid !== up.gid || lo.rdev !== up.rdev || lo.mtimeNs !== up.mtimeNs) return false;
  if (!up.isDirectory() && lo.size !== up.size) return false;
  if (up.isSymbolicLink() && fs.readlinkSync(loPath) !== fs.readlinkSync(upPath)) return false;
  return sameXattrs(loPath, upPath);
}

/**
 * Compares the trees below lower and upper. A directory is written when it changed itself or
 * anything below it did (`pending` holds unchanged ancestors until then), so that a layer
 * always carries the attributes of the directories it writes into.
 */
function* treeChanges(lower: string | undefined, upper: string, rel: string, pending: Change[]): Generator<Change> {
  const inUpper = new Set(fs.readdirSync(upper));
  const names = new Set(inUpper);
  if (lower) for (const n of fs.readdirSync(lower)) names.add(n);
  // in byte order of their names in the tar, where a deleted one is its whiteout
  const tarName = (n: string) => (inUpper.has(n) ? n : WHITEOUT_PREFIX + n);
  for (const name of [...names].sort((a, b) => byName(tarName(a), tarName(b)))) {
    const upPath = path.join(upper, name);
    const loPath = lower && path.join(lower, name);
    const up = lstat(upPath);
    const lo = loPath ? lstat(loPath) : undefined;
    if (!up) {
      yield* pending.splice(0);
      yield { name: join(rel, WHITEOUT_PREFIX + name), mtime: 0 };
      continue;
    }
    const change: Change = { name: join(rel, name), path: upPath, st: up };
    const unchanged = lo !== undefined && same(lo, up, loPath!, upPath);
    if (!unchanged) {
      yield* pending.splice(0);
      yield change;
    }
    if (!up.isDirectory()) continue;
    if (unchanged) pending.push(change);
    yield* treeChanges(lo?.isDirectory() ? loPath : undefined, upPath, change.name, pending);
    if (pending.at(-1) === change) pending.pop();
  }
}

/**
 * The changes from lower to upper (two full trees, as the copying snapshotter keeps them) as an
 * uncompressed layer tar: changed objects whole, deleted ones as `.wh.` whiteouts. A file is
 * changed when its metadata, mtime or size differ; content is not compared (mtimes keep
 * nanoseconds, and a copy with `cp -a` keeps them).
 */
export function diffTrees(lower: string, upper: string, opts: DiffOptions = {}): Readable {
  return Readable.from(tarOf(treeChanges(lower, upper, "", []), opts.idMap), { objectMode: false });
}

/** A whole tree in walk order: the object at `p` named `name` ("" leaves it out), then its content. */
function* treeEntries(p: string, name: string): Generator<Change> {
  const st = lstat(p);
  if (!st) return; // gone while we walked
  if (name) yield { name, path: p, st };
  if (!st.isDirectory()) return;
  for (const c of fs.readdirSync(p).sort(byName)) yield* treeEntries(path.join(p, c), join(name, c));
}

/**
 * The file system object at `p` as a plain tar (not a layer: no whiteouts), its entry named
 * `name` and its content below that name; with `name` "" only the content (`berth cp SRC/.`,
 * `berth export`). Symlinks are stored, never followed.
 */
export function tarTree(p: string, name: string, opts: DiffOptions = {}): Readable {
  return Readable.from(tarOf(treeEntries(p, name), opts.idMap), { objectMode: false });
}
