// The overlay snapshotter: each layer's own files in <root>/<chain>/fs (whiteouts as overlay
// whiteouts), a container's rootfs an overlay mount of its chain's dirs as lowers plus its own
// upper and work dir. The mount option string is limited to a page, so lowers are named by
// short links (<root>/l/<26 chars> -> ../<chain>/fs) and the mount runs with <root> as its
// working directory, as Docker's overlay2 does: about 140 layers fit.
import { randomInt } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { failedPrecondition, unavailable } from "../../errors.js";
import { errnoMessage, inUserNamespace, mount as sysMount } from "../../sys/index.js";
import { applyLayer, diffLayer } from "../layer/index.js";
import { DirSnapshots, chainHex, writeJsonAtomic } from "./base.js";
import type { ActiveSnapshot, SnapshotInfo, Snapshotter } from "./snapshotter.js";

const LINK_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const PAGE = 4096;

function shortLink(): string {
  let s = "";
  for (let i = 0; i < 26; i++) s += LINK_CHARS[randomInt(LINK_CHARS.length)];
  return s;
}

export class OverlaySnapshotter extends DirSnapshots implements Snapshotter {
  readonly kind = "overlay" as const;

  constructor(root: string) {
    super(root);
    fs.mkdirSync(path.join(root, "l"), { recursive: true, mode: 0o700 });
  }

  /** The short links of a chain, nearest layer first (overlay's lowerdir order). */
  private lowers(chainId: string | undefined): string[] {
    if (chainId === undefined) return [];
    const dir = this.dir(chainId);
    const own = "l/" + fs.readFileSync(path.join(dir, "link"), "utf8").trim();
    const below = fs.readFileSync(path.join(dir, "lower"), "utf8").trim();
    return [own, ...(below ? below.split(":") : [])];
  }

  async unpack(chainId: string, parent: string | undefined, layer: Readable, diffId: string): Promise<SnapshotInfo> {
    chainHex(chainId);
    this.mustHave(parent);
    const tmp = this.tempDir();
    const link = shortLink();
    const linkPath = path.join(this.root, "l", link);
    try {
      const fsDir = path.join(tmp, "fs");
      fs.mkdirSync(fsDir, { mode: 0o755 });
      const applied = await applyLayer(fsDir, layer, { whiteouts: "overlay", expectedDiffId: diffId, digest: false });
      fs.writeFileSync(path.join(tmp, "link"), link);
      fs.writeFileSync(path.join(tmp, "lower"), this.lowers(parent).join(":"));
      fs.symlinkSync(`../${chainHex(chainId)}/fs`, linkPath);
      // the layer's content bytes, as Docker counts a layer (a walk of the tree after it cost a stat per file)
      const info: SnapshotInfo = { chainId, parent, diffId, size: applied.unpacked, created: new Date().toISOString() };
      if (!this.commitDir(tmp, chainId, info)) {
        fs.rmSync(linkPath, { force: true });
        return this.info(chainId)!;
      }
      return info;
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.rmSync(linkPath, { force: true });
      throw e;
    }
  }

  remove(chainId: string): void {
    if (!this.has(chainId)) return;
    this.checkUnused(chainId);
    const dir = this.dir(chainId);
    const link = fs.readFileSync(path.join(dir, "link"), "utf8").trim();
    // out of sight first (a rename), then removed: a crash leaves only tmp/ debris
    const doomed = path.join(this.root, "tmp", `remove-${chainHex(chainId)}`);
    fs.renameSync(dir, doomed);
    fs.rmSync(path.join(this.root, "l", link), { force: true });
    fs.rmSync(doomed, { recursive: true, force: true });
  }

  prepare(key: string, parent: string | undefined, labels: Record<string, string> = {}): ActiveSnapshot {
    const { dir, snap } = this.newActive(key, parent, labels);
    try {
      for (const d of ["upper", "work", "merged"]) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
      writeJsonAtomic(path.join(dir, "meta.json"), snap);
      return snap;
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The mount(2) data for an active snapshot, relative to <root>. */
  mountOptions(key: string): string {
    const snap = this.activeMeta(key);
    let lowers = this.lowers(snap.parent);
    if (lowers.length === 0) {
      // overlay needs a lower: an empty image gets an empty one
      fs.mkdirSync(path.join(this.root, "empty"), { recursive: true, mode: 0o755 });
      lowers = ["empty"];
    }
    const active = path.relative(this.root, this.activeDir(key));
    // in an unprivileged berth's user namespace overlay keeps its attributes as user.overlay.*
    const options = `lowerdir=${lowers.join(":")},upperdir=${active}/upper,workdir=${active}/work${inUserNamespace() ? ",userxattr" : ""}`;
    if (options.length >= PAGE) {
      throw failedPrecondition(`snapshot ${key}: ${lowers.length} layers are more than one overlay mount can stack`);
    }
    return options;
  }

  mount(key: string, target: string): void {
    const options = this.mountOptions(key);
    // mount(2) in-process (a `mount` process costs ~3 ms); relative lowerdirs are resolved
    // against the working directory, <root> for the length of the call
    try {
      sysMount("overlay", target, "overlay", 0, options, this.root);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!err.syscall) throw unavailable(`mount overlay: ${err.message}`);
      throw failedPrecondition(`mount overlay on ${target}: ${errnoMessage(err.errno ?? 0)}`);
    }
    this.recordMount(key, target);
  }

  lowerDirs(key: string): string[] {
    return this.lowers(this.activeMeta(key).parent).map((l) => fs.realpathSync(path.join(this.root, l)));
  }

  diff(key: string): Readable {
    this.activeMeta(key);
    return diffLayer(path.join(this.activeDir(key), "upper"));
  }
}
