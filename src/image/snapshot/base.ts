// What the overlay and copy snapshotters share: the directory layout, metadata written
// through a temporary name, and "someone else unpacked it first" handling.
//
//   <root>/<chain hex>/fs          the snapshot's files
//   <root>/<chain hex>/meta.json   SnapshotInfo
//   <root>/active/<key>/           a container's writable snapshot (meta.json + the driver's dirs)
//   <root>/tmp/                    unpacks in progress (same filesystem, so rename is atomic)
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "../../errors.js";
import type { ActiveSnapshot, SnapshotInfo } from "./snapshotter.js";

/** A snapshot's directory name: the chain ID's hex (a sha512 one, the first layer's diffID, has 128 digits). */
export function chainHex(chainId: string): string {
  const m = /^(?:sha256:([0-9a-f]{64})|sha512:([0-9a-f]{128}))$/.exec(chainId);
  if (!m) throw invalidArgument(`snapshot: chain ID ${JSON.stringify(chainId)}: expected sha256:<64 hex digits> or sha512:<128 hex digits>`);
  return m[1] ?? m[2]!;
}

/** The chain ID a snapshot directory is named after, or undefined for other entries. */
function chainIdOf(name: string): string | undefined {
  if (/^[0-9a-f]{64}$/.test(name)) return `sha256:${name}`;
  if (/^[0-9a-f]{128}$/.test(name)) return `sha512:${name}`;
  return undefined;
}

export function validKey(key: string): string {
  if (!/^[\w.-]{1,128}$/.test(key) || key === "." || key === "..") {
    throw invalidArgument(`snapshot key ${JSON.stringify(key)}: expected letters, digits, '_', '-' and '.'`);
  }
  return key;
}

/** Writes JSON through a temporary name so that readers never see half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
  fs.renameSync(tmp, file);
}

export abstract class DirSnapshots {
  constructor(readonly root: string) {
    fs.mkdirSync(path.join(root, "active"), { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(root, "tmp"), { recursive: true, mode: 0o700 });
  }

  protected dir(chainId: string): string {
    return path.join(this.root, chainHex(chainId));
  }
  protected activeDir(key: string): string {
    return path.join(this.root, "active", validKey(key));
  }

  has(chainId: string): boolean {
    return fs.existsSync(path.join(this.dir(chainId), "meta.json"));
  }

  info(chainId: string): SnapshotInfo | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir(chainId), "meta.json"), "utf8")) as SnapshotInfo;
    } catch {
      return undefined;
    }
  }

  list(): SnapshotInfo[] {
    return fs
      .readdirSync(this.root)
      .map(chainIdOf)
      .filter((c): c is string => c !== undefined)
      .map((c) => this.info(c))
      .filter((i): i is SnapshotInfo => i !== undefined);
  }

  active(): ActiveSnapshot[] {
    return fs
      .readdirSync(path.join(this.root, "active"))
      .map((k) => {
        try {
          return JSON.parse(fs.readFileSync(path.join(this.root, "active", k, "meta.json"), "utf8")) as ActiveSnapshot;
        } catch {
          return undefined;
        }
      })
      .filter((a): a is ActiveSnapshot => a !== undefined);
  }

  protected mustHave(chainId: string | undefined): void {
    if (chainId !== undefined && !this.has(chainId)) throw notFound(`snapshot ${chainId} does not exist`);
  }

  /** A fresh directory under tmp/ for an unpack; the caller renames it into place or removes it. */
  protected tempDir(): string {
    return fs.mkdtempSync(path.join(this.root, "tmp", "unpack-"));
  }

  /**
   * Moves a finished unpack into place. Returns false when another process got there first
   * (its snapshot is as good as ours: same chain ID, same content).
   */
  protected commitDir(tmp: string, chainId: string, info: SnapshotInfo): boolean {
    writeJsonAtomic(path.join(tmp, "meta.json"), info);
    try {
      fs.renameSync(tmp, this.dir(chainId));
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
      return false;
    }
  }

  /** Refuses to remove a snapshot that another one builds on. */
  protected checkUnused(chainId: string): void {
    const child = this.list().find((s) => s.parent === chainId);
    if (child) throw failedPrecondition(`snapshot ${chainId} is the parent of ${child.chainId}`);
    const user = this.active().find((a) => a.parent === chainId);
    if (user) throw failedPrecondition(`snapshot ${chainId} is in use by ${user.key}`);
  }

  protected newActive(key: string, parent: string | undefined, labels: Record<string, string>): { dir: string; snap: ActiveSnapshot } {
    this.mustHave(parent);
    const dir = this.activeDir(key);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw alreadyExists(`snapshot ${key} already exists`);
      throw e;
    }
    const snap: ActiveSnapshot = { key, parent, labels, created: new Date().toISOString() };
    return { dir, snap };
  }

  protected activeMeta(key: string): ActiveSnapshot {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.activeDir(key), "meta.json"), "utf8")) as ActiveSnapshot;
    } catch {
      throw notFound(`snapshot ${key} does not exist`);
    }
  }

  /** Remembers where an active snapshot was mounted, so that removeActive can tell it is still in use. */
  protected recordMount(key: string, target: string): void {
    fs.writeFileSync(path.join(this.activeDir(key), "mountpoint"), fs.realpathSync(target)); // as mountinfo spells it
  }

  removeActive(key: string): void {
    const dir = this.activeDir(key);
    if (!fs.existsSync(dir)) return;
    // a directory still mounted (below it, or where mount() put it) must not be emptied under the mount
    let target: string | undefined;
    try {
      target = fs.readFileSync(path.join(dir, "mountpoint"), "utf8");
    } catch {
      // never mounted
    }
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const points = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => unescape(l.split(" ")[4] ?? ""));
    if (points.some((p) => p.startsWith(dir + "/") || p === target)) throw failedPrecondition(`snapshot ${key} is still mounted`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
