// The host's image store: blobs in an OCI image layout (<root>/image: blobs/, oci-layout,
// index.json with one entry per name), layers unpacked into snapshots shared by chain ID.
//
// Order of work keeps it consistent when several berth processes run at once:
//   blobs are written (under a lease, so a concurrent gc keeps them) ->
//   the image enters index.json (under the index lock) -> its layers are unpacked.
// A failure after the index entry rolls it back; gc never deletes what an index entry, a
// live lease or an active snapshot (a container) refers to.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { conflict, failedPrecondition, notFound } from "../errors.js";
import {
  MediaType,
  chainIds,
  hostPlatform,
  parseImageConfig,
  parseManifestOrIndex,
  platformMatches,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from "../oci/index.js";
import { ContentStore } from "./content/index.js";
import { acquireLock } from "./lock.js";
import { parseReference } from "./reference.js";
import { openSnapshotter, type Snapshotter, type SnapshotterKind } from "./snapshot/index.js";
import { processAlive } from "../sys/index.js";

export const REF_NAME = "org.opencontainers.image.ref.name";
const CREATED = "io.berth.image.created";

export interface Image {
  /** the config's digest, as Docker shows image IDs */
  id: string;
  /** the manifest for this host's platform */
  manifest: Descriptor;
  /** the full names pointing at it (docker.io/library/busybox:latest) */
  names: string[];
  config: ImageConfig;
  /** diffIDs' chain IDs, base first */
  chain: string[];
  /** bytes of its unpacked layers */
  size: number;
  /** when it entered this store */
  added: string;
}

export interface StoreOptions {
  snapshotter?: SnapshotterKind;
}

export class ImageStore {
  readonly content: ContentStore;
  readonly snapshots: Snapshotter;
  private readonly dir: string;

  constructor(readonly dataRoot: string, opts: StoreOptions = {}) {
    this.dir = path.join(dataRoot, "image");
    for (const d of ["leases", "ingest"]) fs.mkdirSync(path.join(this.dir, d), { recursive: true, mode: 0o700 });
    if (!fs.existsSync(path.join(this.dir, "oci-layout"))) fs.writeFileSync(path.join(this.dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    this.content = new ContentStore(this.dir);
    this.snapshots = openSnapshotter(dataRoot, opts.snapshotter);
  }

  // ---- index.json -------------------------------------------------------------

  private readIndex(): ImageIndex {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, "index.json"), "utf8")) as ImageIndex;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
      throw e;
    }
  }

  /** Read-modify-write of index.json under an exclusive lock file; the write is a rename. */
  private updateIndex<T>(change: (index: ImageIndex) => T): T {
    const lock = path.join(this.dir, "index.json.lock");
    acquireLock(lock, `image store ${this.dir}: index.json`, { waitMs: 30_000 });
    try {
      const index = this.readIndex();
      const result = change(index);
      const tmp = path.join(this.dir, `index.json.${process.pid}.tmp`);
      fs.writeFileSync(tmp, JSON.stringify(index, null, 2) + "\n");
      fs.renameSync(tmp, path.join(this.dir, "index.json"));
      return result;
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  // ---- leases: blobs being written that no index entry names yet --------------

  /**
   * Runs `work` with a lease that keeps the blobs it names with `keep` from gc until it returns.
   * When `work` fails, those of its blobs that nothing else refers to are removed again, so a
   * failed import or load leaves no stray blobs behind.
   */
  async withLease<T>(work: (keep: (digest: string) => void) => Promise<T>): Promise<T> {
    const file = path.join(this.dir, "leases", `${process.pid}-${randomBytes(4).toString("hex")}`);
    const kept: string[] = [];
    const keep = (d: string) => {
      kept.push(d);
      fs.writeFileSync(file, JSON.stringify(kept));
    };
    fs.writeFileSync(file, "[]");
    let failed = false;
    try {
      return await work(keep);
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      fs.rmSync(file, { force: true });
      if (failed) {
        const { blobs } = this.referenced();
        for (const d of kept) if (!blobs.has(d)) this.content.delete(d);
      }
    }
  }

  private leased(): Set<string> {
    const out = new Set<string>();
    for (const f of fs.readdirSync(path.join(this.dir, "leases"))) {
      const pid = Number(f.split("-")[0]);
      const file = path.join(this.dir, "leases", f);
      if (!processAlive(pid)) {
        fs.rmSync(file, { force: true });
        continue;
      }
      try {
        for (const d of JSON.parse(fs.readFileSync(file, "utf8")) as string[]) out.add(d);
      } catch {
        // being written: its blobs are not committed yet either
      }
    }
    return out;
  }

  // ---- reading images ----------------------------------------------------------

  /** The manifest for this host of a manifest or index descriptor in the store. */
  private platformManifest(desc: Descriptor, platform: Platform = hostPlatform()): { desc: Descriptor; manifest: ImageManifest } {
    const doc = parseManifestOrIndex(this.content.read(desc.digest), `manifest ${desc.digest}`, desc.mediaType);
    if (doc.kind === "manifest") return { desc, manifest: doc.manifest };
    const pick = doc.index.manifests.find((m) => platformMatches(platform, m.platform) && this.content.has(m.digest));
    if (!pick) {
      const have = doc.index.manifests.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? "/" + m.platform.variant : ""}` : "?"));
      throw notFound(`image index ${desc.digest} has no manifest for ${platform.os}/${platform.architecture} (it has ${have.join(", ") || "none"})`);
    }
    return this.platformManifest(pick, platform);
  }

  private imageOf(entry: Descriptor, names: string[]): Image {
    const { desc, manifest } = this.platformManifest(entry);
    const config = parseImageConfig(this.content.read(manifest.config.digest), `image config ${manifest.config.digest}`);
    const chain = chainIds(config.rootfs.diff_ids);
    const size = chain.reduce((n, c) => n + (this.snapshots.info(c)?.size ?? 0), 0);
    return { id: manifest.config.digest, manifest: desc, names, config, chain, size, added: entry.annotations?.[CREATED] ?? "" };
  }

  /** Every image once, with all its names; newest first. */
  list(): Image[] {
    const byManifest = new Map<string, { entry: Descriptor; names: string[] }>();
    for (const m of this.readIndex().manifests) {
      const e = byManifest.get(m.digest) ?? { entry: m, names: [] };
      const name = m.annotations?.[REF_NAME];
      if (name) e.names.push(name);
      byManifest.set(m.digest, e);
    }
    const images: Image[] = [];
    for (const { entry, names } of byManifest.values()) {
      try {
        images.push(this.imageOf(entry, names));
      } catch {
        // a broken entry (blob lost) is left to prune rather than failing every listing
      }
    }
    return images.sort((a, b) => (b.config.created ?? b.added).localeCompare(a.config.created ?? a.added));
  }

  /** An image by name (busybox, busybox:1, docker.io/library/busybox@sha256:…) or ID (prefix); names first, as Docker. */
  resolve(nameOrId: string): Image {
    const images = this.list();
    let ref: ReturnType<typeof parseReference> | undefined;
    try {
      ref = parseReference(nameOrId);
    } catch (e) {
      if (!/^(sha256:|sha512:)?[0-9a-f]{4,128}$/.test(nameOrId)) throw e;
    }
    if (ref) {
      const full = ref.toString();
      const named = images.find((i) => i.names.includes(full) || (ref!.digest !== undefined && !ref!.tag && i.manifest.digest === ref!.digest && i.names.some((n) => parseReference(n).name === ref!.name)));
      if (named) return named;
    }
    const hex = /^(sha256:|sha512:)?([0-9a-f]{4,128})$/.exec(nameOrId);
    if (hex) {
      const matches = (d: string) => (hex[1] === undefined || d.startsWith(hex[1])) && d.slice(d.indexOf(":") + 1).startsWith(hex[2]!);
      const found = images.filter((i) => matches(i.id) || matches(i.manifest.digest));
      if (found.length === 1) return found[0]!;
      if (found.length > 1) throw conflict(`image ID prefix "${nameOrId}" is ambiguous: ${found.map((i) => i.id.slice(7, 19)).join(", ")}`);
    }
    throw notFound(`No such image: ${nameOrId}`);
  }

  history(nameOrId: string): ImageConfig["history"] {
    return this.resolve(nameOrId).config.history ?? [];
  }

  /** Which active snapshots (containers) use an image. */
  users(image: Image): string[] {
    return this.snapshots.active().filter((a) => a.labels.image === image.id).map((a) => a.key);
  }

  // ---- adding images -----------------------------------------------------------

  /**
   * Registers an image whose blobs are all in the content store under `names` (full or short
   * references) and unpacks its layers. On failure the index is as it was.
   */
  async add(manifest: Descriptor, names: string[]): Promise<Image> {
    const full = names.map((n) => parseReference(n).toString());
    const entry: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, ...(manifest.platform ? { platform: manifest.platform } : {}) };
    const stamp = new Date().toISOString();
    // verify before it becomes visible: the manifest, config and layers must all be here
    const probe = this.imageOf({ ...entry, annotations: { [CREATED]: stamp } }, full);
    const { manifest: m } = this.platformManifest(entry);
    const missing = m.layers.find((l) => !this.content.has(l.digest) && !this.snapshots.has(probe.chain[m.layers.indexOf(l)]!));
    if (missing) throw notFound(`image ${probe.id}: layer ${missing.digest} is not in the store`);

    // what this add put in, and what it replaced: a rollback undoes exactly that, keeping
    // whatever other processes changed in the index meanwhile
    const ours = (d: Descriptor) => d.digest === entry.digest && d.annotations?.[CREATED] === stamp;
    const positions = new Map<Descriptor, number>();
    const replaced = this.updateIndex((index) => {
      const gone = index.manifests.filter((d) => full.includes(d.annotations?.[REF_NAME] ?? "") || (d.digest === entry.digest && !d.annotations?.[REF_NAME]));
      gone.forEach((d) => positions.set(d, index.manifests.indexOf(d)));
      index.manifests = index.manifests.filter((d) => !gone.includes(d));
      if (full.length === 0) index.manifests.push({ ...entry, annotations: { [CREATED]: stamp } });
      for (const n of full) index.manifests.push({ ...entry, annotations: { [REF_NAME]: n, [CREATED]: stamp } });
      return gone;
    });
    const unpacked: string[] = [];
    try {
      await this.unpack(probe, m, unpacked);
    } catch (e) {
      this.updateIndex((index) => {
        const names = new Set(index.manifests.filter((d) => !ours(d)).map((d) => d.annotations?.[REF_NAME]));
        index.manifests = index.manifests.filter((d) => !ours(d));
        // a replaced name comes back unless someone gave it to another image meanwhile
        for (const d of replaced) if (!names.has(d.annotations?.[REF_NAME])) index.manifests.splice(positions.get(d)!, 0, d);
      });
      // the layers it did unpack go too, unless another image has them meanwhile: no half-made image
      const { chains } = this.referenced();
      for (const c of unpacked.reverse()) {
        if (chains.has(c)) continue;
        try {
          this.snapshots.remove(c);
        } catch {
          // a container or another unpack builds on it already: gc decides later
        }
      }
      throw e;
    }
    return this.resolve(full[0] ?? probe.id);
  }

  /** Unpacks the layers an image lacks as snapshots, noting their chain IDs in `unpacked`. */
  private async unpack(image: Image, manifest: ImageManifest, unpacked: string[]): Promise<void> {
    const diffIds = image.config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw failedPrecondition(`image ${image.id}: the config lists ${diffIds.length} layers, the manifest ${manifest.layers.length}`);
    }
    for (let i = 0; i < diffIds.length; i++) {
      if (this.snapshots.has(image.chain[i]!)) continue;
      const layer = manifest.layers[i]!;
      await this.snapshots.unpack(image.chain[i]!, image.chain[i - 1], this.content.createReadStream(layer.digest) as Readable, diffIds[i]!);
      unpacked.push(image.chain[i]!);
    }
  }

  // ---- names ---------------------------------------------------------------------

  tag(source: string, target: string): Image {
    const image = this.resolve(source);
    const name = parseReference(target);
    if (name.digest) throw failedPrecondition(`tag ${target}: a tag cannot contain a digest`);
    const full = name.toString();
    this.updateIndex((index) => {
      index.manifests = index.manifests.filter((d) => d.annotations?.[REF_NAME] !== full && !(d.digest === image.manifest.digest && !d.annotations?.[REF_NAME]));
      const base = index.manifests.find((d) => this.configOf(d) === image.id) ?? { mediaType: image.manifest.mediaType, digest: image.manifest.digest, size: image.manifest.size };
      index.manifests.push({ mediaType: base.mediaType, digest: base.digest, size: base.size, annotations: { [REF_NAME]: full, [CREATED]: new Date().toISOString() } });
    });
    return this.resolve(full);
  }

  private configOf(d: Descriptor): string | undefined {
    try {
      return this.platformManifest(d).manifest.config.digest;
    } catch {
      return undefined;
    }
  }

  /**
   * `rmi`: by name removes that name (and the image when it was the last); by ID removes the
   * image with all its names (Docker refuses an ID with several names unless forced). An image a
   * container uses loses its names only when forced, and stays as a dangling image (known by ID,
   * as Docker keeps it) until no container uses it and a prune takes it.
   */
  remove(nameOrId: string, opts: { force?: boolean } = {}): { untagged: string[]; deleted: string[] } {
    const image = this.resolve(nameOrId);
    const byName = image.names.find((n) => {
      try {
        return parseReference(nameOrId).toString() === n;
      } catch {
        return false;
      }
    });
    const users = this.users(image);
    const untag = byName && image.names.length > 1 ? [byName] : image.names;
    const deleting = untag.length === image.names.length;
    if (deleting && users.length > 0 && !opts.force) {
      throw conflict(`unable to remove image ${image.id.slice(7, 19)}: it is in use by ${users.join(", ")}`);
    }
    if (!byName && image.names.length > 1 && !opts.force) {
      throw conflict(`unable to remove image ${image.id.slice(7, 19)}: it has several names (${image.names.join(", ")}); remove them by name or use --force`);
    }
    this.updateIndex((index) => {
      const entry = index.manifests.find((d) => this.configOf(d) === image.id);
      index.manifests = index.manifests.filter((d) => {
        const name = d.annotations?.[REF_NAME];
        if (name) return !untag.includes(name);
        return !(deleting && this.configOf(d) === image.id);
      });
      if (deleting && users.length > 0 && entry) {
        index.manifests.push({ mediaType: entry.mediaType, digest: entry.digest, size: entry.size, annotations: { [CREATED]: entry.annotations?.[CREATED] ?? new Date().toISOString() } });
      }
    });
    const deleted: string[] = [];
    if (deleting && users.length === 0) {
      deleted.push(image.id);
      this.gc();
    }
    return { untagged: untag, deleted };
  }

  // ---- garbage collection ----------------------------------------------------------

  /** Removes images without names (and, with `all`, images no container uses), then gc. */
  prune(opts: { all?: boolean } = {}): { deleted: string[]; reclaimed: number } {
    const victims = this.list().filter((i) => (opts.all || i.names.length === 0) && this.users(i).length === 0);
    const ids = new Set(victims.map((v) => v.id));
    if (ids.size) {
      this.updateIndex((index) => {
        index.manifests = index.manifests.filter((d) => !ids.has(this.configOf(d) ?? ""));
      });
    }
    return { deleted: [...ids], reclaimed: this.gc() };
  }

  /** What index entries and live leases refer to: blobs, and the chains of their images. */
  private referenced(): { blobs: Set<string>; chains: Set<string> } {
    const blobs = this.leased();
    const chains = new Set<string>();
    const visited = new Set<string>(); // not `blobs`: a leased manifest must still keep what it names
    const walk = (d: Descriptor) => {
      if (visited.has(d.digest)) return;
      visited.add(d.digest);
      blobs.add(d.digest);
      if (!this.content.has(d.digest)) return;
      try {
        const doc = parseManifestOrIndex(this.content.read(d.digest), `manifest ${d.digest}`, d.mediaType);
        if (doc.kind === "index") doc.index.manifests.forEach(walk);
        else {
          blobs.add(doc.manifest.config.digest);
          for (const l of doc.manifest.layers) blobs.add(l.digest);
          const config = parseImageConfig(this.content.read(doc.manifest.config.digest), "config");
          for (const c of chainIds(config.rootfs.diff_ids)) chains.add(c);
        }
      } catch {
        // not a manifest (or unreadable): kept as a plain blob
      }
    };
    this.readIndex().manifests.forEach(walk);
    return { blobs, chains };
  }

  /** Deletes blobs and snapshots nothing refers to; returns the bytes freed. */
  gc(): number {
    const { blobs: keepBlobs, chains: keepChains } = this.referenced();
    let freed = 0;
    for (const b of this.content.list()) {
      if (keepBlobs.has(b.digest)) continue;
      if (this.content.delete(b.digest)) freed += b.size;
    }
    // snapshots: keep image chains, and everything below a container's parent
    for (const a of this.snapshots.active()) {
      for (let c = a.parent; c; c = this.snapshots.info(c)?.parent) keepChains.add(c);
    }
    // children before parents
    const doomed = this.snapshots.list().filter((s) => !keepChains.has(s.chainId));
    const depth = (s: { parent?: string }): number => (s.parent ? 1 + depth(this.snapshots.info(s.parent) ?? {}) : 0);
    for (const s of doomed.sort((a, b) => depth(b) - depth(a))) {
      try {
        this.snapshots.remove(s.chainId);
        freed += s.size;
      } catch {
        // in use after all (a container made meanwhile): kept
      }
    }
    return freed;
  }
}
