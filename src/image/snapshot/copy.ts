// The copying snapshotter, for hosts (or filesystems) without overlay: each snapshot is the
// whole tree of its chain, made by copying the parent (reflinks where the filesystem has them)
// and applying the layer with whiteouts as deletions. Costs disk, works everywhere.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { failedPrecondition, internal } from "../../errors.js";
import { applyLayer, diffTrees } from "../layer/index.js";
import { DirSnapshots, chainHex, writeJsonAtomic } from "./base.js";
import type { ActiveSnapshot, SnapshotInfo, Snapshotter } from "./snapshotter.js";

function copyTree(from: string, to: string): void {
  const r = spawnSync("cp", ["-a", "--reflink=auto", from, to], { encoding: "utf8" });
  if (r.status !== 0) throw internal(`copy ${from} to ${to}: ${(r.stderr || r.error?.message || "").trim()}`);
}

export class CopySnapshotter extends DirSnapshots implements Snapshotter {
  readonly kind = "copy" as const;

  async unpack(chainId: string, parent: string | undefined, layer: Readable, diffId: string): Promise<SnapshotInfo> {
    chainHex(chainId);
    this.mustHave(parent);
    const tmp = this.tempDir();
    try {
      const fsDir = path.join(tmp, "fs");
      if (parent) copyTree(path.join(this.dir(parent), "fs"), fsDir);
      else fs.mkdirSync(fsDir, { mode: 0o755 });
      const applied = await applyLayer(fsDir, layer, { whiteouts: "remove", expectedDiffId: diffId, digest: false });
      // the layer's own content bytes, as the overlay snapshotter counts them (not the copied parent's again)
      const info: SnapshotInfo = { chainId, parent, diffId, size: applied.unpacked, created: new Date().toISOString() };
      return this.commitDir(tmp, chainId, info) ? info : this.info(chainId)!;
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  remove(chainId: string): void {
    if (!this.has(chainId)) return;
    this.checkUnused(chainId);
    const doomed = path.join(this.root, "tmp", `remove-${chainHex(chainId)}`);
    fs.renameSync(this.dir(chainId), doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
  }

  prepare(key: string, parent: string | undefined, labels: Record<string, string> = {}): ActiveSnapshot {
    const { dir, snap } = this.newActive(key, parent, labels);
    try {
      if (parent) copyTree(path.join(this.dir(parent), "fs"), path.join(dir, "rootfs"));
      else fs.mkdirSync(path.join(dir, "rootfs"), { mode: 0o755 });
      fs.mkdirSync(path.join(dir, "merged"));
      writeJsonAtomic(path.join(dir, "meta.json"), snap);
      return snap;
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  mount(key: string, target: string): void {
    this.activeMeta(key);
    const r = spawnSync("mount", ["--bind", path.join(this.activeDir(key), "rootfs"), target], { encoding: "utf8" });
    if (r.status !== 0) throw failedPrecondition(`bind mount on ${target}: ${(r.stderr || r.error?.message || "").trim()}`);
    this.recordMount(key, target);
  }

  lowerDirs(key: string): string[] {
    const snap = this.activeMeta(key);
    return snap.parent ? [path.join(this.dir(snap.parent), "fs")] : [];
  }

  diff(key: string): Readable {
    const snap = this.activeMeta(key);
    const empty = path.join(this.root, "empty");
    if (!snap.parent) fs.mkdirSync(empty, { recursive: true, mode: 0o755 });
    const lower = snap.parent ? path.join(this.dir(snap.parent), "fs") : empty;
    return diffTrees(lower, path.join(this.activeDir(key), "rootfs"));
  }
}
