// Applying a layer (an OCI changeset tar, plain, gzip or zstd) to a directory, streaming.
// Every entry is resolved inside the root as if the root were "/": `..` may not climb out,
// symlinks met on the way (planted by this layer or an earlier one) are followed within the
// root, and the final component is never followed. See image-spec layer.md for whiteouts.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { Decompress } from "fzstd";
import { BerthError, internal, invalidArgument, notFound } from "../../errors.js";
import { parseDigest, type DigestAlgorithm } from "../../oci/index.js";
import { inUserNamespace, lsetxattr, makedev, mknod, ownIdMaps } from "../../sys/index.js";
import { readTar, type TarEntry } from "./tar.js";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_WHITEOUT = ".wh..wh..opq";
/**
 * overlayfs' own attributes: never taken from a layer, never written into one. In an
 * unprivileged berth's user namespace trusted.* is out of reach and overlay is mounted with
 * `userxattr`, which reads them as user.overlay.* instead.
 */
export const OVERLAY_XATTR_PREFIX = inUserNamespace() ? "user.overlay." : "trusted.overlay.";
/** how overlayfs marks a directory that hides the lower layers' children */
export const OVERLAY_OPAQUE_XATTR = `${OVERLAY_XATTR_PREFIX}opaque`;

/** Maps a layer's owner IDs to the host's (for user-namespaced containers). */
export type IdMap = (uid: number, gid: number) => [number, number];

export interface ApplyOptions {
  /**
   * "overlay" (default): root is a fresh upper-style directory holding only this layer;
   * whiteouts become 0:0 character devices and opaque directories get trusted.overlay.opaque=y.
   * "remove": root already holds the lower layers' files; whiteouts delete them.
   * "none": not a layer but a plain archive (`berth cp`): `.wh.` names are ordinary files.
   */
  whiteouts?: "overlay" | "remove" | "none";
  expectedDiffId?: string;
  expectedDigest?: string;
  /**
   * false: the digest of the bytes as given is not wanted (their store checked it): a
   * compressed layer is then hashed once, uncompressed, for its diffID.
   */
  digest?: boolean;
  idMap?: IdMap;
}

export interface AppliedLayer {
  /** digest of the uncompressed tar, in expectedDiffId's algorithm (sha256 when none is given) */
  diffId: string;
  /** digest of the bytes as given, in expectedDigest's algorithm (sha256 when none is given); not with `digest: false` and compressed bytes */
  digest?: string;
  /** bytes as given */
  size: number;
  /** bytes of the regular files it wrote (a layer's size as Docker counts it; hardlinks not again) */
  unpacked: number;
}

const q = (s: string) => JSON.stringify(s);
/** files up to this size are written synchronously (see Applier.entry) */
const SMALL_FILE = 256 * 1024;
const truncated = () => invalidArgument("layer: unexpected end of data");
const lstat = (p: string) => fs.lstatSync(p, { throwIfNoEntry: false });
const isWhiteoutDevice = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;

/**
 * In an unprivileged berth's user namespace (README "Unprivileged berth") only the ids of the
 * user's /etc/subuid and /etc/subgid ranges exist: the range mapped at 0 must hold the owner.
 */
function checkMapped(name: string, uid: number, gid: number): void {
  const maps = ownIdMaps();
  for (const [kind, id, ranges, file] of [["uid", uid, maps.uid, "/etc/subuid"], ["gid", gid, maps.gid, "/etc/subgid"]] as const) {
    const r = ranges.find((m) => m.inside === 0) ?? { inside: 0, outside: 0, count: 0 };
    if (id < r.count) continue;
    throw invalidArgument(
      `layer: ${q(name)} is owned by ${kind} ${id}, outside the ${r.count} ${kind}s this user's namespace maps (0-${r.count - 1}, from the ${file} range ${r.outside}-${r.outside + r.count - 1}): the image needs a range of at least ${id + 1} ids in ${file}`,
    );
  }
}

function remove(p: string, st: fs.Stats): void {
  if (st.isDirectory()) fs.rmSync(p, { recursive: true, force: true });
  else fs.unlinkSync(p);
}

const NEW_FILE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/** All of `b` to `fd`, on the thread pool. */
async function writeAll(fd: number, b: Buffer): Promise<void> {
  for (let off = 0; off < b.length; ) {
    off += await new Promise<number>((resolve, reject) => fs.write(fd, b, off, b.length - off, null, (e, n) => (e ? reject(e) : resolve(n))));
  }
}

/**
 * Makes an entry with `make`, which fails with EEXIST when something is at `p` already (an
 * earlier layer's file, or an earlier entry of this one): that is removed and `make` tried
 * again; an existing directory stays when `keepDir` (it keeps its content). Returns what was
 * there. Trying first spares an lstat for each entry of a layer unpacked into nothing.
 */
function create(p: string, make: () => void, keepDir = false): fs.Stats | undefined {
  try {
    make();
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const old = lstat(p)!;
  if (keepDir && old.isDirectory()) return old;
  remove(p, old);
  make();
  return old;
}

/** A tar name as root-relative components; `..` may not climb above the root. */
function normalize(name: string, entry: string): string[] {
  if (name.includes("\0")) throw invalidArgument(`layer: entry ${q(entry)}: name contains a NUL byte`);
  const out: string[] = [];
  for (const c of name.split("/")) {
    if (c === "" || c === ".") continue;
    if (c !== "..") out.push(c);
    else if (out.pop() === undefined) throw invalidArgument(`layer: entry ${q(entry)}: path escapes the root`);
  }
  return out;
}

/**
 * zlib inflates on the thread pool: with room to run ahead (4 MiB) in larger pieces, it works
 * while the main thread writes files, rather than waiting to be asked for the next 16 KiB.
 */
const INFLATE = { chunkSize: 256 << 10, readableHighWaterMark: 4 << 20 };

async function* gunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = zlib.createGunzip(INFLATE);
  const fed = pipeline(Readable.from(src), z).catch(() => undefined); // its errors surface through z
  try {
    for await (const c of z) yield c as Buffer;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (code === "Z_BUF_ERROR") throw truncated();
    if (code.startsWith("Z_")) throw invalidArgument(`layer: gzip: ${(e as Error).message}`);
    throw e;
  } finally {
    z.destroy();
    await fed;
  }
}

async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const d = new Decompress((c) => c.length && out.push(Buffer.from(c))); // copied: fzstd may reuse its window
  const push = (c: Uint8Array, final: boolean) => {
    try {
      d.push(c, final);
    } catch (e) {
      throw (e as Error).message === "unexpected EOF" ? truncated() : invalidArgument(`layer: zstd: ${(e as Error).message}`);
    }
  };
  for await (const c of src) {
    push(c, false);
    yield* out.splice(0);
  }
  push(new Uint8Array(0), true);
  yield* out.splice(0);
}

export type Compression = "gzip" | "zstd" | "bzip2" | "xz";

const XZ_MAGIC = Buffer.from("\xfd7zXZ\0", "latin1");

/** The compression a stream's first bytes (6 are enough) tell, or undefined for none known. */
export function compressionOf(head: Buffer): Compression | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  if (head.length >= 3 && head.toString("latin1", 0, 3) === "BZh") return "bzip2";
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return "xz";
  return undefined;
}

/** The uncompressed bytes, the compression told by the first bytes (gzip, zstd or none). */
async function* decompressed(src: AsyncIterable<Buffer>, found: (compressed: boolean) => void): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  try {
    let head = Buffer.alloc(0);
    while (head.length < 6) {
      const r = await it.next();
      if (r.done) break;
      head = Buffer.concat([head, r.value]);
    }
    async function* rest() {
      if (head.length) yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    }
    const compression = compressionOf(head);
    found(compression === "gzip" || compression === "zstd");
    if (compression === "gzip") yield* gunzip(rest());
    else if (compression === "zstd") yield* unzstd(rest());
    else if (compression) throw invalidArgument("layer: bzip2 and xz compression are not supported (expected tar, gzip or zstd)");
    else yield* rest();
  } finally {
    await it.return?.(); // stopped early: stop the source too
  }
}

/**
 * Applies a layer to `root`, streaming, and returns its digests. On any error the directory is
 * left half-applied: the caller (a snapshotter unpacking into a temporary directory) discards it.
 */
export async function applyLayer(root: string, input: NodeJS.ReadableStream | Readable, opts: ApplyOptions = {}): Promise<AppliedLayer> {
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(root);
  } catch {
    throw notFound(`layer: root directory ${root} does not exist`);
  }
  // sha512 where the expected digests use it (descriptor.md registers both)
  const algorithm = (d: string | undefined, what: string): DigestAlgorithm => (d === undefined ? "sha256" : parseDigest(d, `layer: ${what}`).algorithm);
  const digestAlgorithm = algorithm(opts.expectedDigest, "expected digest");
  const diffAlgorithm = algorithm(opts.expectedDiffId, "expected diffID");
  const digest = createHash(digestAlgorithm);
  const diff = createHash(diffAlgorithm);
  let size = 0;
  let compressed = false; // else the digest is the diffID: hash once (when both use one algorithm)
  const hashDiff = () => compressed || diffAlgorithm !== digestAlgorithm;
  const wantDigest = opts.digest !== false || opts.expectedDigest !== undefined;
  async function* given(): AsyncGenerator<Buffer> {
    for await (const c of input) {
      const b = typeof c === "string" ? Buffer.from(c) : (c as Buffer);
      if (wantDigest || !compressed) digest.update(b);
      size += b.length;
      yield b;
    }
  }
  async function* plain(): AsyncGenerator<Buffer> {
    for await (const c of decompressed(given(), (yes) => (compressed = yes))) {
      if (hashDiff()) diff.update(c);
      yield c;
    }
  }
  const applier = new Applier(realRoot, opts);
  for await (const entry of readTar(plain())) await applier.apply(entry);
  applier.finish();
  const givenDigest = `${digestAlgorithm}:${digest.digest("hex")}`;
  const got = { diffId: hashDiff() ? `${diffAlgorithm}:${diff.digest("hex")}` : givenDigest, ...(wantDigest || !compressed ? { digest: givenDigest } : {}), size, unpacked: applier.unpacked };
  if (opts.expectedDigest && opts.expectedDigest !== got.digest) {
    throw invalidArgument(`layer ${opts.expectedDigest}: digest mismatch: got ${got.digest}`);
  }
  if (opts.expectedDiffId && opts.expectedDiffId !== got.diffId) {
    throw invalidArgument(`layer ${opts.expectedDiffId}: diffID mismatch: got ${got.diffId}`);
  }
  return got;
}

class Applier {
  private readonly overlay: boolean;
  /** root-relative paths this layer wrote, and their ancestors: whiteouts hide only lower layers */
  private readonly touched = new Set<string>();
  /** directories' mtimes, set at the end since writing their content changes them */
  private readonly dirTimes = new Map<string, number>();
  /** bytes of the regular files written */
  unpacked = 0;
  /** the previous entry's parent: tars list siblings together, and an entry changes only its own path */
  private lastParent?: { key: string; parts: string[] };

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {
    this.overlay = (opts.whiteouts ?? "overlay") === "overlay";
  }

  async apply(e: TarEntry): Promise<void> {
    try {
      await this.entry(e);
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw internal(`layer: entry ${q(e.name)}: ${(err as Error).message}`, err);
    }
  }

  finish(): void {
    for (const [p, t] of this.dirTimes) if (lstat(p)?.isDirectory()) fs.utimesSync(p, t, t);
  }

  private abs(parts: string[]): string {
    return parts.length ? path.join(this.root, ...parts) : this.root;
  }

  private ids(uid: number, gid: number): [number, number] {
    return this.opts.idMap ? this.opts.idMap(uid, gid) : [uid, gid];
  }

  private mark(rel: string[]): void {
    // the path, then its ancestors up to the first one marked already (its own are then too)
    for (let key = rel.join("/"); key && !this.touched.has(key); key = key.slice(0, Math.max(0, key.lastIndexOf("/")))) this.touched.add(key);
  }

  /**
   * Resolves directory components inside the root as if it were "/" (chroot semantics: absolute
   * symlinks restart at the root, `..` stops there). Missing directories are created when
   * `create`, else undefined is returned.
   */
  private resolve(parts: string[], entry: string, create: boolean): string[] | undefined {
    const key = parts.join("/");
    if (this.lastParent?.key === key) return this.lastParent.parts;
    const stack: string[] = [];
    const todo = parts.slice().reverse();
    let links = 0;
    while (todo.length) {
      const c = todo.pop()!;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        stack.pop();
        continue;
      }
      const p = path.join(this.root, ...stack, c);
      const st = lstat(p);
      if (!st) {
        if (!create) return undefined;
        fs.mkdirSync(p);
        fs.lchownSync(p, ...this.ids(0, 0));
        fs.chmodSync(p, 0o755);
      } else if (st.isSymbolicLink()) {
        if (++links > 40) throw invalidArgument(`layer: entry ${q(entry)}: too many levels of symbolic links`);
        const target = fs.readlinkSync(p);
        if (target.startsWith("/")) stack.length = 0;
        todo.push(...target.split("/").reverse());
        continue;
      } else if (!st.isDirectory()) {
        throw invalidArgument(`layer: entry ${q(entry)}: ${q("/" + [...stack, c].join("/"))} is not a directory`);
      }
      stack.push(c);
    }
    this.lastParent = { key, parts: stack };
    return stack;
  }

  private async entry(e: TarEntry): Promise<void> {
    const parts = normalize(e.name, e.name);
    const base = parts.at(-1);
    const plain = this.opts.whiteouts === "none";
    if (!plain && base?.startsWith(WHITEOUT_PREFIX)) return this.whiteout(e, parts);
    if (!plain && parts.slice(0, -1).some((c) => c.startsWith(WHITEOUT_PREFIX))) {
      throw invalidArgument(`layer: entry ${q(e.name)}: a whiteout name cannot be a directory`);
    }
    if (base === undefined) {
      if (e.type !== "dir") throw invalidArgument(`layer: entry ${q(e.name)}: the root can only be a directory`);
      return this.attrs(this.root, e);
    }
    const rel = [...this.resolve(parts.slice(0, -1), e.name, true)!, base];
    const p = this.abs(rel);
    if (e.type === "link") {
      const target = this.linkTarget(e); // before removing anything: a refused entry changes nothing
      if (target !== p) create(p, () => fs.linkSync(target, p));
      return this.mark(rel); // a hardlink shares its target's inode and attributes
    }
    switch (e.type) {
      case "dir": {
        // an existing directory keeps its content and takes the entry's attributes
        const old = create(p, () => fs.mkdirSync(p, 0o700), true);
        // replacing a whiteout of this layer: the new directory must not show the old one's children
        if (old && this.overlay && isWhiteoutDevice(old)) lsetxattr(p, OVERLAY_OPAQUE_XATTR, Buffer.from("y"));
        break;
      }
      case "file": {
        this.unpacked += e.size;
        let fd = -1;
        create(p, () => (fd = fs.openSync(p, NEW_FILE, 0o600)));
        try {
          if (e.size <= SMALL_FILE) {
            // most files of a layer are small: written with plain syscalls, which costs less
            // than the thread-pool round trips of asynchronous writes
            const chunks: Buffer[] = [];
            for await (const c of e.body) chunks.push(c);
            const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off);
          } else {
            // gathered into writes of about 1 MiB: one thread-pool round trip per chunk costs more than the copy
            let batch: Buffer[] = [];
            let batched = 0;
            for await (const c of e.body) {
              batch.push(c);
              if ((batched += c.length) < 1 << 20) continue;
              await writeAll(fd, Buffer.concat(batch));
              [batch, batched] = [[], 0];
            }
            if (batched) await writeAll(fd, Buffer.concat(batch));
          }
          // its attributes through the descriptor: no path lookups
          this.mark(rel);
          this.attrs(p, e, fd);
        } finally {
          fs.closeSync(fd);
        }
        return;
      }
      case "symlink":
        if (e.linkname.includes("\0")) throw invalidArgument(`layer: entry ${q(e.name)}: link target contains a NUL byte`);
        create(p, () => fs.symlinkSync(e.linkname, p));
        break;
      case "char":
      case "block":
      case "fifo": {
        const kind = { char: fs.constants.S_IFCHR, block: fs.constants.S_IFBLK, fifo: fs.constants.S_IFIFO }[e.type];
        create(p, () => mknod(p, kind | 0o600, e.type === "fifo" ? 0 : makedev(e.devmajor, e.devminor)));
        break;
      }
    }
    this.mark(rel);
    this.attrs(p, e);
  }

  /**
   * Owner, then mode (chown clears setuid/setgid), then xattrs (chown clears capabilities), then
   * times; through `fd` when the file is open (no path lookups).
   */
  private attrs(p: string, e: TarEntry, fd?: number): void {
    const [uid, gid] = this.ids(e.uid, e.gid);
    if (inUserNamespace()) checkMapped(e.name, uid, gid);
    if (fd !== undefined) fs.fchownSync(fd, uid, gid);
    else fs.lchownSync(p, uid, gid);
    if (fd !== undefined) fs.fchmodSync(fd, e.mode);
    else if (e.type !== "symlink") fs.chmodSync(p, e.mode);
    for (const [name, value] of e.xattrs) if (!name.startsWith(OVERLAY_XATTR_PREFIX)) lsetxattr(p, name, value);
    if (e.type === "dir") this.dirTimes.set(p, e.mtime);
    else if (fd !== undefined) fs.futimesSync(fd, e.mtime, e.mtime);
    else fs.lutimesSync(p, e.mtime, e.mtime);
  }

  /** A hardlink's target: resolved like any entry, it must exist inside the root and not be a directory. */
  private linkTarget(e: TarEntry): string {
    const parts = normalize(e.linkname, e.name);
    const base = parts.pop();
    const dir = base === undefined ? undefined : this.resolve(parts, e.name, false);
    const target = dir && this.abs([...dir, base!]);
    const st = target ? lstat(target) : undefined;
    if (!st) throw invalidArgument(`layer: entry ${q(e.name)}: hardlink target ${q(e.linkname)} does not exist in the layer or below it`);
    if (st.isDirectory()) throw invalidArgument(`layer: entry ${q(e.name)}: hardlink target ${q(e.linkname)} is a directory`);
    return target!;
  }

  private whiteout(e: TarEntry, parts: string[]): void {
    const base = parts.at(-1)!;
    const dir = this.resolve(parts.slice(0, -1), e.name, this.overlay);
    if (base === OPAQUE_WHITEOUT) {
      if (!dir) return; // nothing below to hide
      if (this.overlay) lsetxattr(this.abs(dir), OVERLAY_OPAQUE_XATTR, Buffer.from("y"));
      else for (const c of fs.readdirSync(this.abs(dir))) this.prune([...dir, c]);
      return;
    }
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === "" || name === "." || name === "..") throw invalidArgument(`layer: entry ${q(e.name)}: not a valid whiteout`);
    if (!dir) return;
    const rel = [...dir, name];
    if (!this.overlay) return this.prune(rel);
    if (this.touched.has(rel.join("/"))) return; // this layer's own file: a whiteout hides lower layers only
    const p = this.abs(rel);
    const old = lstat(p);
    if (old) remove(p, old);
    mknod(p, fs.constants.S_IFCHR, 0);
    fs.lchownSync(p, ...this.ids(0, 0));
    fs.lutimesSync(p, e.mtime, e.mtime);
  }

  /** Removes what lower layers put at `rel`, sparing what this layer wrote there. */
  private prune(rel: string[]): void {
    const p = this.abs(rel);
    const st = lstat(p);
    if (!st) return;
    if (!this.touched.has(rel.join("/"))) return remove(p, st);
    if (st.isDirectory()) for (const c of fs.readdirSync(p)) this.prune([...rel, c]);
  }
}
