// The content store: blobs by digest, laid out as an OCI image layout's blobs directory
// (image-layout.md): <root>/blobs/<alg>/<hex>. Partial writes live under <root>/ingest/:
//   ingest/tmp-<owner>-<random>      one-shot writes (writeBlob, writeStream)
//   ingest/<sha256(ref)>/data        a resumable ingest (openIngest), with ref.json and lock
// Every blob is checked against its digest and size before it is renamed into blobs/, so a
// blob that exists is whole and correct; rename is atomic, so any number of processes may
// write the same blob at once.

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { failedPrecondition, invalidArgument, notFound } from "../../errors.js";
import { Digester, parseDigest, type DigestAlgorithm } from "../../oci/index.js";
import { acquireLock, owner, ownerAlive, readText, unlinkQuiet } from "../lock.js";

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface Expected {
  digest?: string;
  size?: number;
}

/** A resumable write of one blob, owned by one process at a time. */
export interface Ingest {
  /** Bytes already there from an earlier try; send the rest from here. */
  readonly offset: number;
  /** The file the data goes to: readable while it is written; commit renames it into blobs/. */
  readonly path: string;
  append(chunk: Buffer): void;
  /**
   * Writes the data out to disk on the thread pool (commit's fsync then has little left to
   * do): the main thread goes on meanwhile, unpacking the blob, say.
   */
  flush(): Promise<void>;
  /** Verifies the whole blob and moves it into the store. */
  commit(): BlobInfo;
  /** Discards the partial data. */
  abort(): void;
  /** Lets go of the ingest but keeps the partial data for a later openIngest. */
  close(): void;
}

const ALGORITHMS: DigestAlgorithm[] = ["sha256", "sha512"];
const HEX = /^[0-9a-f]+$/;

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

function blobName(digest?: string): string {
  return digest === undefined ? "blob" : `blob ${digest}`;
}

function tooLong(expected: Expected) {
  return invalidArgument(`${blobName(expected.digest)}: size mismatch: expected ${expected.size} bytes, got more than ${expected.size}`);
}

/** Checks size, then digest (the spec's order: size first narrows the collision space). */
function verify(expected: Expected, actual: BlobInfo): void {
  const name = blobName(expected.digest ?? actual.digest);
  if (expected.size !== undefined && expected.size !== actual.size) {
    throw invalidArgument(`${name}: size mismatch: expected ${expected.size} bytes, got ${actual.size}`);
  }
  if (expected.digest !== undefined && expected.digest !== actual.digest) throw invalidArgument(`${name}: digest mismatch: got ${actual.digest}`);
}

function checkExpected(expected: Expected): DigestAlgorithm {
  if (expected.size !== undefined && (!Number.isSafeInteger(expected.size) || expected.size < 0)) {
    throw invalidArgument(`${blobName(expected.digest)}: expected size must be a non-negative integer, got ${expected.size}`);
  }
  return expected.digest !== undefined ? parseDigest(expected.digest, "blob").algorithm : "sha256";
}

export class ContentStore {
  private readonly ingestDir: string;

  constructor(readonly root: string) {
    this.ingestDir = path.join(root, "ingest");
  }

  /** Where a blob lives (whether or not it is there). */
  path(digest: string): string {
    const { algorithm, hex } = parseDigest(digest, "blob");
    return path.join(this.root, "blobs", algorithm, hex);
  }

  has(digest: string): boolean {
    return fs.existsSync(this.path(digest));
  }

  size(digest: string): number | undefined {
    try {
      return fs.statSync(this.path(digest)).size;
    } catch (e) {
      if (errno(e) === "ENOENT") return undefined;
      throw e;
    }
  }

  /** The blob's bytes; not re-verified, since nothing enters blobs/ unverified. */
  read(digest: string): Buffer {
    try {
      return fs.readFileSync(this.path(digest));
    } catch (e) {
      if (errno(e) === "ENOENT") throw notFound(`blob ${digest}: not in the content store`);
      throw e;
    }
  }

  readJson<T>(digest: string): T {
    const data = this.read(digest);
    try {
      return JSON.parse(data.toString("utf8")) as T;
    } catch (e) {
      throw invalidArgument(`blob ${digest}: not valid JSON: ${(e as Error).message}`);
    }
  }

  /** A stream of the blob (or of bytes start..end inclusive); a missing blob throws here, not later. */
  createReadStream(digest: string, opts: { start?: number; end?: number } = {}): fs.ReadStream {
    const file = this.path(digest);
    if (!fs.existsSync(file)) throw notFound(`blob ${digest}: not in the content store`);
    return fs.createReadStream(file, opts);
  }

  list(): BlobInfo[] {
    const out: BlobInfo[] = [];
    for (const algorithm of ALGORITHMS) {
      const dir = path.join(this.root, "blobs", algorithm);
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch (e) {
        if (errno(e) === "ENOENT") continue;
        throw e;
      }
      for (const hex of names) {
        if (!HEX.test(hex)) continue;
        try {
          out.push({ digest: `${algorithm}:${hex}`, size: fs.statSync(path.join(dir, hex)).size });
        } catch (e) {
          if (errno(e) !== "ENOENT") throw e; // deleted meanwhile
        }
      }
    }
    return out;
  }

  /** Removes a blob; false when it was not there. */
  delete(digest: string): boolean {
    try {
      fs.unlinkSync(this.path(digest));
      return true;
    } catch (e) {
      if (errno(e) === "ENOENT") return false;
      throw e;
    }
  }

  // ---- writing -----------------------------------------------------------------------

  private tempFile(): string {
    fs.mkdirSync(this.ingestDir, { recursive: true });
    return path.join(this.ingestDir, `tmp-${owner().replace(" ", "-")}-${randomBytes(6).toString("hex")}`);
  }

  /** Moves a verified file into blobs/; replacing an identical blob a racing writer put there is harmless. */
  private place(file: string, digest: string): void {
    const target = this.path(digest);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(file, target);
  }

  /** Stores bytes, verified against `expected`; storing a blob that exists is a no-op. */
  writeBlob(data: Buffer | string, expected: Expected = {}): BlobInfo {
    const algorithm = checkExpected(expected);
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    const actual = { digest: new Digester(algorithm).update(buf).digest(), size: buf.length };
    verify(expected, actual); // before anything touches the disk, so a bad blob leaves nothing
    if (this.has(actual.digest)) return actual;
    const tmp = this.tempFile();
    try {
      const fd = fs.openSync(tmp, "wx", 0o644);
      try {
        fs.writeSync(fd, buf);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      this.place(tmp, actual.digest);
    } catch (e) {
      unlinkQuiet(tmp);
      throw e;
    }
    return actual;
  }

  /**
   * Stores a stream, verified against `expected`. The input is always read to its end (or to
   * the first byte past expected.size, which fails at once so an endless body cannot fill the
   * disk); a blob that exists already is only digested.
   */
  async writeStream(input: Readable, expected: Expected = {}): Promise<BlobInfo> {
    const algorithm = checkExpected(expected);
    const skipWrite = expected.digest !== undefined && this.has(expected.digest);
    const tmp = skipWrite ? undefined : this.tempFile();
    const fh = tmp === undefined ? undefined : await fs.promises.open(tmp, "wx", 0o644);
    const digester = new Digester(algorithm);
    try {
      for await (const chunk of input) {
        const buf: Buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        digester.update(buf);
        if (expected.size !== undefined && digester.size > expected.size) throw tooLong(expected);
        if (fh) await fh.write(buf);
      }
      const actual = { digest: digester.digest(), size: digester.size };
      verify(expected, actual);
      if (fh && tmp) {
        await fh.sync();
        await fh.close();
        this.place(tmp, actual.digest);
      }
      return actual;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      if (tmp) unlinkQuiet(tmp);
      throw e;
    }
  }

  // ---- resumable ingests -------------------------------------------------------------

  private ingestPath(ref: string): string {
    return path.join(this.ingestDir, createHash("sha256").update(ref).digest("hex"));
  }

  /**
   * Opens (or continues) the ingest named `ref` (any string the caller picks, such as
   * "pull docker.io/library/busybox sha256:…"). Only one process may hold it at a time.
   */
  openIngest(ref: string, expected: { digest: string; size?: number }): Ingest {
    const algorithm = checkExpected(expected);
    const dir = this.ingestPath(ref);
    const what = `ingest ${JSON.stringify(ref)}`;
    const lock = path.join(dir, "lock");
    // a cleanIngests that removes the directory between mkdir and the lock makes us retry
    for (let attempt = 0; ; attempt++) {
      fs.mkdirSync(dir, { recursive: true });
      try {
        acquireLock(lock, what);
        break;
      } catch (e) {
        if (errno(e) !== "ENOENT" || attempt >= 3) throw e;
      }
    }
    try {
      return new ResumableIngest((file, digest) => this.place(file, digest), dir, ref, expected, algorithm);
    } catch (e) {
      unlinkQuiet(lock);
      throw e;
    }
  }

  /**
   * Removes temp files and unlocked ingests not written to for `olderThanMs`, as a crashed
   * writer leaves them. Returns how many were removed.
   */
  cleanIngests(olderThanMs: number): number {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.ingestDir);
    } catch (e) {
      if (errno(e) === "ENOENT") return 0;
      throw e;
    }
    for (const name of names) {
      const file = path.join(this.ingestDir, name);
      if (name.startsWith("trash-")) {
        fs.rmSync(file, { recursive: true, force: true }); // a clean that died half-way
        continue;
      }
      const tmp = /^tmp-(\d+(?:-\d+)?)-[0-9a-f]+$/.exec(name);
      if (tmp) {
        if (!ownerAlive(tmp[1]!) && mtime(file) < cutoff) {
          unlinkQuiet(file);
          removed++;
        }
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const newest = Math.max(mtime(path.join(file, "data")), mtime(path.join(file, "ref.json")), mtime(file));
      if (newest >= cutoff) continue;
      try {
        acquireLock(path.join(file, "lock"), `ingest ${name}`);
      } catch {
        continue; // in use, or gone
      }
      // rename first, so an opener never sees a half-removed directory
      const trash = path.join(this.ingestDir, `trash-${randomBytes(6).toString("hex")}`);
      fs.renameSync(file, trash);
      fs.rmSync(trash, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }
}

function mtime(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

class ResumableIngest implements Ingest {
  offset: number;
  private fd: number | undefined;
  private readonly data: string;
  /** the digest of everything in the file, kept as it grows so that commit need not read it again */
  private digester: Digester;

  constructor(
    private readonly place: (file: string, digest: string) => void,
    private readonly dir: string,
    private readonly ref: string,
    private readonly expected: { digest: string; size?: number },
    private readonly algorithm: DigestAlgorithm,
  ) {
    this.data = path.join(dir, "data");
    const meta = path.join(dir, "ref.json");
    // Data from an earlier try counts only if it was for the same blob and is not too long.
    let earlier: { digest?: unknown; size?: unknown } = {};
    try {
      earlier = JSON.parse(readText(meta) ?? "{}");
    } catch {
      // a torn ref.json: start over
    }
    const same = earlier.digest === expected.digest && earlier.size === (expected.size ?? null);
    if (!same) {
      fs.writeFileSync(`${meta}.tmp`, JSON.stringify({ ref, digest: expected.digest, size: expected.size ?? null }));
      fs.renameSync(`${meta}.tmp`, meta);
    }
    // read as well as written: commit digests the whole file through this descriptor
    this.fd = fs.openSync(this.data, same ? "a+" : "w+", 0o644);
    this.offset = fs.fstatSync(this.fd).size;
    if (expected.size !== undefined && this.offset > expected.size) {
      fs.ftruncateSync(this.fd, 0);
      this.offset = 0;
    }
    // what an earlier process wrote is not trusted: it is digested here, with the rest to come
    this.digester = new Digester(this.algorithm);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0, n: number; pos < this.offset && (n = fs.readSync(this.fd, buf, 0, Math.min(buf.length, this.offset - pos), pos)) > 0; pos += n) this.digester.update(buf.subarray(0, n));
  }

  get path(): string {
    return this.data;
  }

  private open(): number {
    if (this.fd === undefined) throw failedPrecondition(`ingest ${JSON.stringify(this.ref)}: already committed, aborted or closed`);
    return this.fd;
  }

  append(chunk: Buffer): void {
    const fd = this.open();
    if (this.expected.size !== undefined && this.offset + chunk.length > this.expected.size) {
      this.abort();
      throw tooLong(this.expected);
    }
    for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off);
    this.digester.update(chunk);
    this.offset += chunk.length;
  }

  flush(): Promise<void> {
    const fd = this.open();
    return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
  }

  commit(): BlobInfo {
    const fd = this.open();
    fs.fsyncSync(fd);
    // the whole file's digest, including what an earlier process wrote (digested at open)
    const actual = { digest: this.digester.digest(), size: this.digester.size };
    try {
      verify(this.expected, actual);
    } catch (e) {
      this.abort();
      throw e;
    }
    fs.closeSync(fd);
    this.fd = undefined;
    this.place(this.data, actual.digest);
    this.removeDir();
    return actual;
  }

  abort(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    unlinkQuiet(this.data);
    this.removeDir();
  }

  close(): void {
    if (this.fd === undefined) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = undefined;
    unlinkQuiet(path.join(this.dir, "lock"));
  }

  // The lock goes last but one, so nobody opens the ingest while its files are going.
  private removeDir(): void {
    unlinkQuiet(path.join(this.dir, "ref.json"));
    unlinkQuiet(path.join(this.dir, "lock"));
    try {
      fs.rmdirSync(this.dir);
    } catch (e) {
      if (errno(e) !== "ENOENT" && errno(e) !== "ENOTEMPTY") throw e;
    }
  }
}
