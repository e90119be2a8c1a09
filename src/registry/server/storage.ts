// The registry's storage: an OCI image layout (blobs/<alg>/<hex>, the layout berth's host cache
// uses, written through image/content's ContentStore, so every blob is verified before it is
// visible) plus, per repository, which blobs, manifests, tags and referrers belong to it:
//
//   DIR/oci-layout                                   {"imageLayoutVersion":"1.0.0"}
//   DIR/blobs/sha256/<hex>                           every blob and manifest, once
//   DIR/repositories/<name>/_blobs/<alg>/<hex>       an empty link: the blob is in <name>
//   DIR/repositories/<name>/_manifests/<alg>/<hex>   a link holding the manifest's media type
//   DIR/repositories/<name>/_tags/<tag>              the digest the tag points at
//   DIR/repositories/<name>/_referrers/<alg>-<hex>/<alg>-<hex>   subject -> a manifest naming it
//   DIR/uploads/<id>/{data,info.json}                upload sessions (uploads.ts)
//
// Repository path components never start with "_", so the link folders cannot clash with a
// nested repository's name. Every link is written to a temporary name and renamed.

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { ContentStore } from "../../image/content/index.js";
import { MediaType, type Descriptor } from "../../oci/index.js";
import { checkDigest } from "./names.js";

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

export function writeAtomic(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function readQuiet(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return undefined;
    throw e;
  }
}

function readdirQuiet(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return [];
    throw e;
  }
}

function digestPath(digest: string): string {
  const { algorithm, hex } = checkDigest(digest);
  return path.join(algorithm, hex);
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
}

export class RegistryStorage {
  readonly content: ContentStore;
  readonly reposDir: string;
  readonly uploadsDir: string;

  constructor(readonly root: string) {
    this.content = new ContentStore(root);
    this.reposDir = path.join(root, "repositories");
    this.uploadsDir = path.join(root, "uploads");
  }

  /** Makes the layout's folders; an existing storage is used as it is. */
  init(): void {
    fs.mkdirSync(path.join(this.root, "blobs"), { recursive: true });
    fs.mkdirSync(this.reposDir, { recursive: true });
    fs.mkdirSync(this.uploadsDir, { recursive: true });
    const layout = path.join(this.root, "oci-layout");
    if (!fs.existsSync(layout)) writeAtomic(layout, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  }

  private repo(name: string, ...rest: string[]): string {
    return path.join(this.reposDir, name, ...rest);
  }

  repoExists(name: string): boolean {
    return fs.existsSync(this.repo(name, "_manifests")) || fs.existsSync(this.repo(name, "_blobs"));
  }

  // ---- blobs -------------------------------------------------------------------------

  /** The blob's size when it is in `name` (linked there and present in the store). */
  blobSize(name: string, digest: string): number | undefined {
    if (!fs.existsSync(this.repo(name, "_blobs", digestPath(digest)))) return undefined;
    return this.content.size(digest);
  }

  linkBlob(name: string, digest: string): void {
    const link = this.repo(name, "_blobs", digestPath(digest));
    if (!fs.existsSync(link)) writeAtomic(link, "");
  }

  unlinkBlob(name: string, digest: string): boolean {
    try {
      fs.unlinkSync(this.repo(name, "_blobs", digestPath(digest)));
      return true;
    } catch (e) {
      if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return false;
      throw e;
    }
  }

  /** Any repository's copy of a blob that is in the store (automatic content discovery). */
  blobInStore(digest: string): boolean {
    return this.content.has(digest);
  }

  // ---- manifests and tags ------------------------------------------------------------

  manifest(name: string, digest: string): StoredManifest | undefined {
    const mediaType = readQuiet(this.repo(name, "_manifests", digestPath(digest)));
    if (mediaType === undefined) return undefined;
    const size = this.content.size(digest);
    return size === undefined ? undefined : { digest, mediaType, size };
  }

  tagTarget(name: string, tag: string): string | undefined {
    return readQuiet(this.repo(name, "_tags", tag))?.trim();
  }

  putManifest(name: string, m: { digest: string; mediaType: string; data: Buffer; tag?: string; subject?: string }): void {
    this.content.writeBlob(m.data, { digest: m.digest, size: m.data.length });
    writeAtomic(this.repo(name, "_manifests", digestPath(m.digest)), m.mediaType);
    if (m.subject !== undefined) writeAtomic(this.repo(name, "_referrers", digestPath(m.subject).replace("/", "-"), digestPath(m.digest).replace("/", "-")), "");
    if (m.tag !== undefined) writeAtomic(this.repo(name, "_tags", m.tag), m.digest);
  }

  tags(name: string): string[] {
    return readdirQuiet(this.repo(name, "_tags"))
      .filter((t) => !t.endsWith(".tmp"))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  deleteTag(name: string, tag: string): boolean {
    try {
      fs.unlinkSync(this.repo(name, "_tags", tag));
      return true;
    } catch (e) {
      if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return false;
      throw e;
    }
  }

  /** Removes the manifest from `name` with every tag pointing at it and its referrer link. */
  deleteManifest(name: string, digest: string): boolean {
    const link = this.repo(name, "_manifests", digestPath(digest));
    if (!fs.existsSync(link)) return false;
    for (const tag of this.tags(name)) if (this.tagTarget(name, tag) === digest) this.deleteTag(name, tag);
    const own = digestPath(digest).replace("/", "-");
    for (const subject of readdirQuiet(this.repo(name, "_referrers"))) fs.rmSync(this.repo(name, "_referrers", subject, own), { force: true });
    fs.unlinkSync(link);
    return true;
  }

  /** The manifests in `name` whose subject is `digest`, as descriptors (spec: referrers API). */
  referrers(name: string, digest: string, artifactType?: string): Descriptor[] {
    const out: Descriptor[] = [];
    const dir = this.repo(name, "_referrers", digestPath(digest).replace("/", "-"));
    for (const entry of readdirQuiet(dir).sort()) {
      const dash = entry.indexOf("-");
      if (dash < 0 || entry.endsWith(".tmp")) continue;
      const ref = `${entry.slice(0, dash)}:${entry.slice(dash + 1)}`;
      const m = this.manifest(name, ref);
      if (!m) continue;
      let doc: { artifactType?: unknown; config?: { mediaType?: unknown }; annotations?: unknown };
      try {
        doc = JSON.parse(this.content.read(ref).toString("utf8"));
      } catch {
        continue;
      }
      // image-spec: an image manifest without artifactType is typed by its config's media type
      const type = typeof doc.artifactType === "string" ? doc.artifactType : m.mediaType !== MediaType.OCI_INDEX && typeof doc.config?.mediaType === "string" ? doc.config.mediaType : undefined;
      if (artifactType !== undefined && type !== artifactType) continue;
      const d: Descriptor = { mediaType: m.mediaType, digest: ref, size: m.size };
      if (type !== undefined) d.artifactType = type;
      if (doc.annotations && typeof doc.annotations === "object") d.annotations = doc.annotations as Record<string, string>;
      out.push(d);
    }
    return out;
  }

  /** Every repository name, sorted (the catalog). */
  repositories(): string[] {
    const out: string[] = [];
    const walk = (dir: string, prefix: string, depth: number) => {
      if (depth > 64) return; // names are at most 255 characters: never this deep
      for (const entry of readdirQuiet(dir)) {
        if (entry.startsWith("_") || entry.endsWith(".tmp")) continue;
        const name = prefix ? `${prefix}/${entry}` : entry;
        const sub = path.join(dir, entry);
        if (fs.existsSync(path.join(sub, "_manifests")) || fs.existsSync(path.join(sub, "_blobs"))) out.push(name);
        walk(sub, name, depth + 1);
      }
    };
    walk(this.reposDir, "", 0);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Digests of every manifest linked in `name`. */
  manifestDigests(name: string): string[] {
    const out: string[] = [];
    for (const alg of readdirQuiet(this.repo(name, "_manifests"))) {
      for (const hex of readdirQuiet(this.repo(name, "_manifests", alg))) if (!hex.endsWith(".tmp")) out.push(`${alg}:${hex}`);
    }
    return out;
  }

  /** Digests of every blob linked in `name`. */
  blobDigests(name: string): string[] {
    const out: string[] = [];
    for (const alg of readdirQuiet(this.repo(name, "_blobs"))) {
      for (const hex of readdirQuiet(this.repo(name, "_blobs", alg))) if (!hex.endsWith(".tmp")) out.push(`${alg}:${hex}`);
    }
    return out;
  }
}
