// Blob upload sessions (spec.md, "Pushing blobs"): each session is a file under DIR/uploads/<id>
// that PATCH and PUT append to, streaming, with a running sha256 so the closing PUT need not
// read it again. A chunk that fails half-way (a client that disconnects, a wrong length) is cut
// off again, so the session stays at its last whole chunk. The closing PUT checks the digest
// and only then renames the file into blobs/: a blob that is visible is whole and verified.
// Sessions not touched for `ttlMs` are removed (abandoned uploads).

import { createHash, randomUUID, type Hash } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Digester, type DigestAlgorithm } from "../../oci/index.js";
import { registryError } from "./errors.js";
import type { RegistryStorage } from "./storage.js";
import { writeAtomic } from "./storage.js";

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

export interface Session {
  readonly id: string;
  readonly name: string;
  readonly dir: string;
  size: number;
  /** sha256 of the data so far; undefined when it must be read again (after a restart or a cut) */
  hash: Hash | undefined;
  busy: boolean;
  touched: number;
}

export class Uploads {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly storage: RegistryStorage,
    private readonly opts: { ttlMs: number; maxSessions: number },
  ) {}

  private dir(id: string): string {
    return path.join(this.storage.uploadsDir, id);
  }

  create(name: string): Session {
    if (this.sessions.size >= this.opts.maxSessions) {
      throw registryError("TOOMANYREQUESTS", `too many upload sessions in progress (${this.opts.maxSessions}): finish or cancel some first`);
    }
    const id = randomUUID();
    const dir = this.dir(id);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "data"), "");
    writeAtomic(path.join(dir, "info.json"), JSON.stringify({ name, started: new Date().toISOString() }));
    const s: Session = { id, name, dir, size: 0, hash: createHash("sha256"), busy: false, touched: Date.now() };
    this.sessions.set(id, s);
    return s;
  }

  /** The session `id` of repository `name`; one a restart left on disk is taken up again. */
  get(name: string, id: string): Session {
    const unknown = () => registryError("BLOB_UPLOAD_UNKNOWN", `blob upload ${JSON.stringify(id.slice(0, 80))} unknown to registry`, { name, id: id.slice(0, 80) });
    if (!ID.test(id)) throw unknown();
    let s = this.sessions.get(id);
    if (!s) {
      try {
        const info = JSON.parse(fs.readFileSync(path.join(this.dir(id), "info.json"), "utf8")) as { name?: string };
        const size = fs.statSync(path.join(this.dir(id), "data")).size;
        s = { id, name: String(info.name), dir: this.dir(id), size, hash: undefined, busy: false, touched: Date.now() };
        this.sessions.set(id, s);
      } catch {
        throw unknown();
      }
    }
    if (s.name !== name) throw unknown();
    return s;
  }

  /** Marks the session in use by one request; a second at the same time is out of order. */
  take(s: Session): void {
    if (s.busy) throw registryError("BLOB_UPLOAD_INVALID", `blob upload ${s.id}: another request is writing to it`, undefined, 416);
    s.busy = true;
    s.touched = Date.now();
  }

  release(s: Session): void {
    s.busy = false;
    s.touched = Date.now();
  }

  /**
   * Appends a request body. `length` (from Content-Length or Content-Range) is what must
   * arrive; anything else cuts the chunk off again and fails.
   */
  async append(s: Session, body: Readable, length?: number): Promise<void> {
    const before = s.size;
    const file = path.join(s.dir, "data");
    let received = 0;
    const hash = s.hash;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (length !== undefined && received > length) return cb(registryError("SIZE_INVALID", `chunk longer than its declared ${length} bytes`));
        hash?.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, count, fs.createWriteStream(file, { flags: "a", highWaterMark: 1 << 20 }));
      if (length !== undefined && received !== length) throw registryError("SIZE_INVALID", `chunk of ${received} bytes, but ${length} were declared`);
      s.size = before + received;
    } catch (e) {
      // keep the session at its last whole chunk; the running digest no longer matches the file
      fs.truncateSync(file, before);
      s.size = before;
      if (received > 0) s.hash = undefined;
      throw e;
    }
  }

  /** Verifies the data against `digest` and moves it into the store; the session ends either way. */
  async finish(s: Session, digest: string, algorithm: DigestAlgorithm): Promise<number> {
    const file = path.join(s.dir, "data");
    try {
      let actual: string;
      if (algorithm === "sha256" && s.hash) {
        actual = `sha256:${s.hash.digest("hex")}`;
      } else {
        const d = new Digester(algorithm);
        for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) d.update(chunk as Buffer);
        actual = d.digest();
      }
      s.hash = undefined;
      if (actual !== digest) throw registryError("DIGEST_INVALID", `provided digest ${digest} did not match uploaded content (${actual}, ${s.size} bytes)`, { digest });
      // on disk before it is visible, as the content store does: a crash never leaves a short blob
      const fd = fs.openSync(file, "r");
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      const target = this.storage.content.path(digest);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.renameSync(file, target); // atomic: a racing upload of the same blob leaves identical bytes
      this.storage.linkBlob(s.name, digest);
      return s.size;
    } finally {
      this.remove(s);
    }
  }

  remove(s: Session): void {
    this.sessions.delete(s.id);
    fs.rmSync(s.dir, { recursive: true, force: true });
  }

  /** Removes sessions idle for longer than the TTL, in memory and those a restart left on disk. */
  sweep(now = Date.now()): number {
    let removed = 0;
    for (const s of [...this.sessions.values()]) {
      if (!s.busy && now - s.touched > this.opts.ttlMs) {
        this.remove(s);
        removed++;
      }
    }
    let names: string[];
    try {
      names = fs.readdirSync(this.storage.uploadsDir);
    } catch (e) {
      if (errno(e) === "ENOENT") return removed;
      throw e;
    }
    for (const id of names) {
      if (this.sessions.has(id)) continue;
      const dir = this.dir(id);
      try {
        if (now - fs.statSync(path.join(dir, "data")).mtimeMs <= this.opts.ttlMs) continue;
      } catch {
        // no data file: a session torn at creation
      }
      fs.rmSync(dir, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  get active(): number {
    return this.sessions.size;
  }
}
