// `save` and `load`: images as a tar archive, in the two formats other tools read and write.
//   docker-archive: manifest.json ([{Config, RepoTags, Layers}]) with uncompressed layer tars —
//     written the way Docker 25+ writes it (blobs/sha256/…, plus oci-layout and index.json),
//     so Docker, Podman and skopeo all load it; older archives (<id>/layer.tar, symlinked
//     duplicate layers) load too.
//   oci-archive: an OCI image layout (oci-layout, index.json, blobs/) in a tar.
import * as fs from "node:fs";
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import tar from "tar-stream";
import { invalidArgument, notFound } from "../errors.js";
import { MediaType, digestOf, parseImageConfig, parseManifestOrIndex, type Descriptor, type ImageIndex, type ImageManifest } from "../oci/index.js";
import { isGzip, peek } from "./import.js";
import { parseReference } from "./reference.js";
import { REF_NAME, type Image, type ImageStore } from "./store.js";

export type ArchiveFormat = "docker-archive" | "oci-archive";

function familiar(name: string): string {
  return parseReference(name).familiar();
}

/** Adds a file entry whose size is known, streaming its content. */
async function addFile(pack: tar.Pack, name: string, size: number, content: Readable | Buffer): Promise<void> {
  const header = { name, size, mode: 0o644, mtime: new Date(0), type: "file" as const };
  if (Buffer.isBuffer(content)) {
    await new Promise<void>((resolve, reject) => pack.entry(header, content, (e) => (e ? reject(e) : resolve())));
    return;
  }
  const entry = pack.entry(header);
  await pipeline(content, entry);
}

export async function saveImages(store: ImageStore, names: string[], format: ArchiveFormat, out: Writable): Promise<void> {
  if (names.length === 0) throw invalidArgument("save: name at least one image");
  const picked: { image: Image; tags: string[] }[] = [];
  for (const n of names) {
    const image = store.resolve(n);
    let tags: string[];
    try {
      const ref = parseReference(n);
      tags = image.names.includes(ref.toString()) ? [ref.toString()] : image.id.includes(n.replace(/^sha256:/, "")) ? image.names : [];
    } catch {
      tags = image.names; // saved by ID: with all its names, as Docker does
    }
    const have = picked.find((p) => p.image.id === image.id);
    if (have) have.tags.push(...tags.filter((t) => !have.tags.includes(t)));
    else picked.push({ image, tags });
  }
  const pack = tar.pack();
  const done = pipeline(pack, out);
  const tmp = fs.mkdtempSync(path.join(store.dataRoot, "image", "ingest", "save-"));
  try {
    const written = new Set<string>();
    const blob = async (digest: string, size: number, content: () => Readable | Buffer) => {
      if (written.has(digest)) return;
      written.add(digest);
      await addFile(pack, `blobs/sha256/${digest.slice(7)}`, size, content());
    };
    const layout = Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await addFile(pack, "oci-layout", layout.length, layout);
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
    const dockerManifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
    for (const { image, tags } of picked) {
      const manifest = parseManifestOrIndex(store.content.read(image.manifest.digest), "manifest", image.manifest.mediaType);
      if (manifest.kind !== "manifest") throw invalidArgument(`save: ${image.id}: not a single-platform manifest`);
      const m = manifest.manifest;
      await blob(m.config.digest, m.config.size, () => store.content.read(m.config.digest));
      let saved: ImageManifest = m;
      if (format === "docker-archive") {
        // Docker's layers are uncompressed tars named by their diffID
        const layers: Descriptor[] = [];
        for (let i = 0; i < m.layers.length; i++) {
          const l = m.layers[i]!;
          const diffId = image.config.rootfs.diff_ids[i]!;
          const file = path.join(tmp, diffId.slice(7));
          if (!written.has(diffId)) {
            const { head, stream } = await peek(store.content.createReadStream(l.digest) as Readable, 2);
            if (isGzip(head)) await pipeline(stream, zlib.createGunzip(), fs.createWriteStream(file));
            else await pipeline(stream, fs.createWriteStream(file));
          }
          const size = fs.statSync(file).size;
          await blob(diffId, size, () => fs.createReadStream(file));
          layers.push({ mediaType: MediaType.OCI_LAYER, digest: diffId, size });
        }
        saved = { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: { ...m.config, mediaType: MediaType.OCI_CONFIG }, layers };
        dockerManifest.push({ Config: `blobs/sha256/${m.config.digest.slice(7)}`, RepoTags: tags.map(familiar), Layers: layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) });
      } else {
        for (const l of m.layers) await blob(l.digest, l.size, () => store.content.createReadStream(l.digest) as Readable);
      }
      const bytes = format === "docker-archive" ? Buffer.from(JSON.stringify(saved)) : store.content.read(image.manifest.digest);
      const digest = format === "docker-archive" ? digestOf(bytes) : image.manifest.digest;
      await blob(digest, bytes.length, () => bytes);
      const desc: Descriptor = { mediaType: MediaType.OCI_MANIFEST, digest, size: bytes.length };
      if (tags.length === 0) index.manifests.push(desc);
      for (const t of tags) {
        // io.containerd.image.name carries the full name; ref.name the tag, as the layout spec has it
        index.manifests.push({ ...desc, annotations: { "io.containerd.image.name": t, [REF_NAME]: parseReference(t).tag ?? "latest" } });
      }
    }
    const indexBytes = Buffer.from(JSON.stringify(index));
    await addFile(pack, "index.json", indexBytes.length, indexBytes);
    if (format === "docker-archive") {
      const mj = Buffer.from(JSON.stringify(dockerManifest));
      await addFile(pack, "manifest.json", mj.length, mj);
    }
    pack.finalize();
    await done;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- load ----------------------------------------------------------------------------

/** The archive's files, each extracted to a temporary file; symlinks resolved by name. */
class Extracted {
  private readonly files = new Map<string, string>();
  private readonly links = new Map<string, string>();
  constructor(readonly tmp: string) {}

  static norm(name: string, what: string): string {
    const parts: string[] = [];
    for (const p of name.split("/")) {
      if (p === "" || p === ".") continue;
      if (p === "..") {
        if (parts.length === 0) throw invalidArgument(`load: archive entry ${JSON.stringify(what)}: path escapes the archive`);
        parts.pop();
      } else parts.push(p);
    }
    return parts.join("/");
  }

  async read(given: Readable): Promise<void> {
    const { head, stream: input } = await peek(given, 2);
    const extract = tar.extract();
    let n = 0;
    const done = new Promise<void>((resolve, reject) => {
      extract.on("entry", (header, stream, next) => {
        const name = Extracted.norm(header.name, header.name);
        if (header.type === "file" || header.type === "contiguous-file") {
          const file = path.join(this.tmp, String(n++));
          this.files.set(name, file);
          pipeline(stream, fs.createWriteStream(file)).then(() => next(), reject);
          return;
        }
        if (header.type === "symlink" && header.linkname) {
          const target = header.linkname.startsWith("/") ? header.linkname : path.posix.join(path.posix.dirname(name), header.linkname);
          this.links.set(name, Extracted.norm(target, header.name));
        } else if (header.type === "link" && header.linkname) {
          this.links.set(name, Extracted.norm(header.linkname, header.name));
        }
        stream.resume();
        stream.on("end", () => next());
      });
      extract.on("finish", resolve);
      extract.on("error", reject);
    });
    try {
      await Promise.all([isGzip(head) ? pipeline(input, zlib.createGunzip(), extract) : pipeline(input, extract), done]);
    } catch (e) {
      throw invalidArgument(`load: not a valid tar archive: ${(e as Error).message}`);
    }
  }

  path(name: string): string | undefined {
    let n = Extracted.norm(name, name);
    for (let hops = 0; hops < 16 && !this.files.has(n); hops++) {
      const t = this.links.get(n);
      if (t === undefined) return undefined;
      n = t;
    }
    return this.files.get(n);
  }

  must(name: string): string {
    const p = this.path(name);
    if (!p) throw invalidArgument(`load: the archive has no ${name}`);
    return p;
  }
}

export interface Loaded {
  image: Image;
  /** the names it was loaded with (empty: known by ID) */
  names: string[];
}

export async function loadImages(store: ImageStore, input: Readable): Promise<Loaded[]> {
  const tmp = fs.mkdtempSync(path.join(store.dataRoot, "image", "ingest", "load-"));
  try {
    const ex = new Extracted(tmp);
    await ex.read(input);
    return await store.withLease(async (keep) => {
      if (ex.path("manifest.json")) return loadDocker(store, ex, keep);
      if (ex.path("index.json")) return loadOci(store, ex, keep);
      throw invalidArgument("load: the archive has neither manifest.json (docker-archive) nor index.json (oci-archive)");
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function loadDocker(store: ImageStore, ex: Extracted, keep: (d: string) => void): Promise<Loaded[]> {
  let entries: { Config?: unknown; RepoTags?: unknown; Layers?: unknown }[];
  try {
    entries = JSON.parse(fs.readFileSync(ex.must("manifest.json"), "utf8"));
    if (!Array.isArray(entries)) throw new Error("expected an array");
  } catch (e) {
    throw invalidArgument(`load: manifest.json: ${(e as Error).message}`);
  }
  const out: Loaded[] = [];
  for (const [i, e] of entries.entries()) {
    if (typeof e.Config !== "string" || !Array.isArray(e.Layers)) throw invalidArgument(`load: manifest.json[${i}]: expected Config and Layers`);
    const configBytes = fs.readFileSync(ex.must(e.Config));
    const config = parseImageConfig(configBytes, `load: ${e.Config}`);
    const configBlob = store.content.writeBlob(configBytes);
    keep(configBlob.digest);
    if (config.rootfs.diff_ids.length !== e.Layers.length) {
      throw invalidArgument(`load: ${e.Config}: the config lists ${config.rootfs.diff_ids.length} layers, manifest.json ${e.Layers.length}`);
    }
    const layers: Descriptor[] = [];
    for (const [j, l] of (e.Layers as string[]).entries()) {
      const file = ex.must(l);
      const { head } = await peek(fs.createReadStream(file, { end: 1 }), 2);
      // an uncompressed layer's digest is its diffID, which the store checks as it writes
      const expected = isGzip(head) ? undefined : { digest: config.rootfs.diff_ids[j] };
      const b = await store.content.writeStream(fs.createReadStream(file), expected);
      keep(b.digest);
      layers.push({ mediaType: isGzip(head) ? MediaType.OCI_LAYER_GZIP : MediaType.OCI_LAYER, digest: b.digest, size: b.size });
    }
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: { mediaType: MediaType.OCI_CONFIG, digest: configBlob.digest, size: configBlob.size }, layers };
    const mb = store.content.writeBlob(JSON.stringify(manifest));
    keep(mb.digest);
    const names = Array.isArray(e.RepoTags) ? (e.RepoTags as string[]) : [];
    const image = await store.add({ mediaType: MediaType.OCI_MANIFEST, digest: mb.digest, size: mb.size }, names);
    out.push({ image, names });
  }
  return out;
}

async function loadOci(store: ImageStore, ex: Extracted, keep: (d: string) => void): Promise<Loaded[]> {
  const index = parseManifestOrIndex(fs.readFileSync(ex.must("index.json")), "load: index.json", MediaType.OCI_INDEX);
  if (index.kind !== "index") throw invalidArgument("load: index.json: expected an image index");
  const copy = async (d: Descriptor) => {
    const file = ex.path(`blobs/${d.digest.replace(":", "/")}`);
    if (!file) {
      if (store.content.has(d.digest)) return;
      throw notFound(`load: the archive lacks blob ${d.digest}`);
    }
    keep((await store.content.writeStream(fs.createReadStream(file), { digest: d.digest, size: d.size })).digest);
  };
  const out: Loaded[] = [];
  const copyTree = async (d: Descriptor): Promise<void> => {
    await copy(d);
    const doc = parseManifestOrIndex(store.content.read(d.digest), `load: ${d.digest}`, d.mediaType);
    if (doc.kind === "index") {
      // every platform the archive carries is kept; blobs of absent ones are skipped
      for (const m of doc.index.manifests) {
        if (ex.path(`blobs/${m.digest.replace(":", "/")}`)) await copyTree(m);
      }
      return;
    }
    await copy(doc.manifest.config);
    for (const l of doc.manifest.layers) await copy(l);
  };
  for (const d of index.index.manifests) {
    await copyTree(d);
    const a = d.annotations ?? {};
    // the full name, where a tool recorded one; a bare tag in ref.name ("latest") names no
    // repository, so such an image loads by ID, as with Docker
    const ref = a["io.containerd.image.name"] ?? (/[/:]/.test(a[REF_NAME] ?? "") ? a[REF_NAME] : undefined);
    const names = ref ? [parseReference(ref).toString()] : [];
    const image = await store.add({ mediaType: d.mediaType, digest: d.digest, size: d.size }, names);
    out.push({ image, names });
  }
  return out;
}
