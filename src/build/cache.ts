// The build cache: what a step made, keyed by the state it started from (the image config and
// layers so far), the instruction as it was expanded (with the build args in effect) and, for
// COPY and ADD, a checksum of the content they copy. One small JSON file per key under
// <root>/build/cache; a hit is only used while its layer's blob and snapshot are still in the
// store (a prune or rmi may take them: the step then runs again).
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { withLock } from "../image/lock.js";
import type { Descriptor } from "../oci/index.js";

export interface CachedStep {
  /** the history entry's time: a rebuild from cache gives the same image ID */
  created: string;
  /** the layer the step made; none for a step that changes only the config */
  layer?: { descriptor: Descriptor; diffId: string };
}

export class BuildCache {
  private readonly dir: string;

  constructor(dataRoot: string) {
    this.dir = path.join(dataRoot, "build", "cache");
  }

  static key(parts: unknown): string {
    return createHash("sha256").update(JSON.stringify(parts)).digest("hex");
  }

  get(key: string): CachedStep | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, `${key}.json`), "utf8")) as CachedStep;
    } catch {
      return undefined;
    }
  }

  put(key: string, step: CachedStep): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `${key}.json`);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(step));
    fs.renameSync(tmp, file);
  }
}

/** Where RUN --mount=type=cache directories live (one per id, named by its hash). */
export function cacheMountsDir(dataRoot: string): string {
  return path.join(dataRoot, "build-cache");
}

function treeBytes(p: string): number {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let total = 0;
  for (const e of fs.readdirSync(p)) total += treeBytes(path.join(p, e));
  return total;
}

export interface BuildCachePrune {
  /** the cache records and cache mounts removed (their hashes) */
  deleted: string[];
  /** bytes of the cache mounts' files (the records' layers stay while images hold them) */
  reclaimed: number;
}

/**
 * `builder prune`: every cache record (the next build runs each step again) and every
 * RUN --mount=type=cache directory, each taken under its lock so a locked or private cache
 * in use by a build is waited for.
 */
export async function pruneBuildCache(dataRoot: string): Promise<BuildCachePrune> {
  const deleted: string[] = [];
  let reclaimed = 0;
  const records = path.join(dataRoot, "build", "cache");
  for (const f of fs.existsSync(records) ? fs.readdirSync(records).sort() : []) {
    fs.rmSync(path.join(records, f), { force: true });
    if (f.endsWith(".json")) deleted.push(f.slice(0, -".json".length));
  }
  const mounts = cacheMountsDir(dataRoot);
  for (const name of fs.existsSync(mounts) ? fs.readdirSync(mounts).sort() : []) {
    if (name.includes(".")) continue; // a lock, or a directory being made
    const dir = path.join(mounts, name);
    await withLock(`${dir}.lock`, `build cache ${dir}`, async () => {
      reclaimed += treeBytes(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    deleted.push(name);
  }
  return { deleted, reclaimed };
}
