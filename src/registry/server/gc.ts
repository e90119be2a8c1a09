// `berth registry gc`: mark every blob a manifest in some repository refers to (the manifest
// itself, its config and layers, an index's manifests), then remove the rest from blobs/ and
// the repository links to them. It takes the storage's lock, so it refuses to run while a
// server has the storage (a blob pushed but not yet named by a manifest would look unused)
// and a server cannot start while it runs.

import * as fs from "node:fs";
import path from "node:path";
import { invalidArgument } from "../../errors.js";
import { lockStorage } from "./server.js";
import { RegistryStorage } from "./storage.js";
import { Uploads } from "./uploads.js";

export interface GcResult {
  /** the blobs removed (or, with dryRun, that would be) */
  removed: { digest: string; size: number }[];
  bytes: number;
  /** abandoned upload sessions removed */
  uploads: number;
}

export function collectGarbage(storageDir: string, opts: { dryRun?: boolean; uploadTtlMs?: number } = {}): GcResult {
  const storage = new RegistryStorage(path.resolve(storageDir));
  if (!fs.existsSync(path.join(storage.root, "oci-layout"))) {
    throw invalidArgument(`--storage ${storage.root}: not a registry storage (no oci-layout file)`);
  }
  const release = lockStorage(storage.root, "berth registry gc");
  try {
    const marked = new Set<string>();
    const repos = storage.repositories();
    for (const name of repos) {
      for (const digest of storage.manifestDigests(name)) {
        marked.add(digest);
        let doc: { config?: { digest?: unknown }; layers?: { digest?: unknown }[]; manifests?: { digest?: unknown }[] };
        try {
          doc = JSON.parse(storage.content.read(digest).toString("utf8"));
        } catch {
          continue; // a missing or unreadable manifest refers to nothing we can know
        }
        const refs = [doc.config, ...(Array.isArray(doc.layers) ? doc.layers : []), ...(Array.isArray(doc.manifests) ? doc.manifests : [])];
        for (const d of refs) if (d && typeof d.digest === "string") marked.add(d.digest);
      }
    }
    const removed = storage.content.list().filter((b) => !marked.has(b.digest));
    let uploads = 0;
    if (!opts.dryRun) {
      const gone = new Set(removed.map((b) => b.digest));
      for (const b of removed) storage.content.delete(b.digest);
      for (const name of repos) for (const digest of storage.blobDigests(name)) if (gone.has(digest) || !storage.content.has(digest)) storage.unlinkBlob(name, digest);
      uploads = new Uploads(storage, { ttlMs: opts.uploadTtlMs ?? 3_600_000, maxSessions: 0 }).sweep();
      storage.content.cleanIngests(0);
    }
    return { removed, bytes: removed.reduce((a, b) => a + b.size, 0), uploads };
  } finally {
    release();
  }
}
