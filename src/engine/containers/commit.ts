// commit: a container's changes become an image. Its writable snapshot, read as a layer (new
// and changed files whole, deletions as whiteouts), goes on top of its image's layers; the
// config is the image's with the `-c` changes applied, and a history entry says who and why.
// A running container is frozen while its layer is read (unless `pause: false`).
import { internal, invalidArgument } from "../../errors.js";
import { parseManifestOrIndex } from "../../oci/index.js";
import { commitImage, parseChanges, parseReference, storeLayer, type Image } from "../../image/index.js";
import type { EngineContext } from "../context.js";
import type { HostConfig } from "../options.js";
import { containerArgs } from "../spec.js";
import { refresh } from "./cleanup.js";
import { userChanges } from "./diff.js";
import { lookup } from "./lookup.js";
import { pause, unpause } from "./pause.js";

export interface CommitOptions {
  /** REPOSITORY[:TAG]; none leaves the image dangling, known by its ID */
  ref?: string;
  /** `-a` */
  author?: string;
  /** `-m`: the history entry's comment */
  message?: string;
  /** `-c`: Dockerfile instructions for the config (CMD, ENV, …) */
  changes?: string[];
  /** freeze a running container while its layer is read (default true) */
  pause?: boolean;
}

export async function commit(ctx: EngineContext, ref: string, opts: CommitOptions = {}): Promise<Image> {
  const found = lookup(ctx, ref);
  const row = refresh(ctx, found) ?? found;
  const base = ctx.images.resolve(row.imageId);
  // everything the user gave is checked before anything is written
  const config = parseChanges(opts.changes ?? [], base.config.config ?? {});
  if (opts.ref !== undefined && parseReference(opts.ref).digest) throw invalidArgument(`commit ${opts.ref}: a tag cannot contain a digest`);
  let createdBy = "";
  try {
    createdBy = containerArgs(JSON.parse(row.config) as HostConfig, base.config).join(" ");
  } catch {
    // no command: the history says nothing about it
  }
  const store = ctx.images;
  return store.withLease(async (keep) => {
    const frozen = opts.pause !== false && row.state === "running";
    if (frozen) pause(ctx, row.id);
    let layer;
    try {
      layer = await storeLayer(store, userChanges(store.snapshots.diff(row.id), store.snapshots.lowerDirs(row.id)), keep);
    } finally {
      if (frozen) {
        try {
          unpause(ctx, row.id);
        } catch (e) {
          ctx.warn(`container ${row.name}: could not unpause after commit: ${(e as Error).message}`);
        }
      }
    }
    const below = parseManifestOrIndex(store.content.read(base.manifest.digest), `manifest ${base.manifest.digest}`, base.manifest.mediaType);
    if (below.kind !== "manifest") throw internal(`image ${base.id}: ${base.manifest.digest} is not a manifest`);
    const info = { ref: opts.ref, message: opts.message, config, author: opts.author };
    return commitImage(store, [{ ...layer, createdBy, comment: opts.message }], info, keep, base.config, below.manifest.layers);
  });
}
