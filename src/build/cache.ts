// The build cache: what a step made, keyed by the state it started from (the image config and
// layers so far), the instruction as it was expanded (with the build args in effect) and, for
// COPY and ADD, a checksum of the content they copy. One small JSON file per key under
// <root>/build/cache; a hit is only used while its layer's blob and snapshot are still in the
// store (a prune or rmi may take them: the step then runs again).
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
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
