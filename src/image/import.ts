// Images made from a root filesystem tarball (`berth import`, `berth bootstrap`): one layer,
// stored gzip-compressed, and a config naming this host's platform.
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { invalidArgument } from "../errors.js";
import { MediaType, digestingStream, hostPlatform, type ContainerConfig, type Descriptor, type ImageConfig, type ImageManifest } from "../oci/index.js";
import type { Image, ImageStore } from "./store.js";

export interface ImportOptions {
  /** the name to give it (busybox:latest); none leaves it dangling, known by ID */
  ref?: string;
  /** the history entry's comment (`docker import -m`) */
  message?: string;
  /** what `docker import --change` sets: CMD, ENV, … as a container config */
  config?: ContainerConfig;
  /** the image's creation time (default now); fixed by bootstrap for reproducible digests */
  created?: string;
  createdBy?: string;
  /** the image's author (`docker commit -a`) */
  author?: string;
}

/** The first bytes of a stream, and a stream that still yields everything. */
export async function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let len = 0;
  const it = input[Symbol.asyncIterator]();
  while (len < n) {
    const r = await it.next();
    if (r.done) break;
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    chunks.push(b);
    len += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* rest() {
    yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  }
  return { head: head.subarray(0, n), stream: Readable.from(rest(), { objectMode: false }) };
}

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Stores a tar stream (plain or gzip) as a gzip layer blob; returns its descriptor and diffID. */
export async function storeLayer(store: ImageStore, input: Readable, keep: (d: string) => void): Promise<{ layer: Descriptor; diffId: string }> {
  const { head, stream } = await peek(input, 512);
  if (head.length === 0) throw invalidArgument("import: the tarball is empty");
  const plain = isGzip(head) ? stream.pipe(zlib.createGunzip()) : stream;
  const diff = digestingStream();
  const gz = zlib.createGzip();
  const out = new PassThrough();
  const written = store.content.writeStream(out);
  try {
    await pipeline(plain, diff, gz, out);
  } catch (e) {
    out.destroy();
    await written.catch(() => undefined);
    throw invalidArgument(`import: not a valid tar stream: ${(e as Error).message}`);
  }
  const blob = await written;
  keep(blob.digest);
  return { layer: { mediaType: MediaType.OCI_LAYER_GZIP, digest: blob.digest, size: blob.size }, diffId: diff.digest() };
}

/** Writes config and manifest for layers already in the store and adds the image. */
export async function commitImage(
  store: ImageStore,
  layers: { layer: Descriptor; diffId: string; createdBy?: string; comment?: string }[],
  opts: ImportOptions,
  keep: (d: string) => void,
  base?: ImageConfig,
  /** the base image's layers, when `base` is an image these layers go on top of (commit) */
  baseLayers: Descriptor[] = [],
): Promise<Image> {
  const created = opts.created ?? new Date().toISOString();
  const platform = hostPlatform();
  const config: ImageConfig = {
    created,
    ...(opts.author ? { author: opts.author } : {}),
    architecture: base?.architecture ?? platform.architecture,
    os: base?.os ?? platform.os,
    ...(platform.variant && !base ? { variant: platform.variant } : {}),
    config: { ...(base?.config ?? {}), ...(opts.config ?? {}) },
    rootfs: { type: "layers", diff_ids: [...(base?.rootfs.diff_ids ?? []), ...layers.map((l) => l.diffId)] },
    history: [
      ...(base?.history ?? []),
      ...layers.map((l) => ({ created, created_by: l.createdBy ?? opts.createdBy ?? "berth import", ...(opts.author ? { author: opts.author } : {}), ...(l.comment ?? opts.message ? { comment: l.comment ?? opts.message } : {}) })),
    ],
  };
  const configBlob = store.content.writeBlob(JSON.stringify(config));
  keep(configBlob.digest);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: { mediaType: MediaType.OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
    layers: [...baseLayers, ...layers.map((l) => l.layer)],
  };
  const manifestBlob = store.content.writeBlob(JSON.stringify(manifest));
  keep(manifestBlob.digest);
  return store.add({ mediaType: MediaType.OCI_MANIFEST, digest: manifestBlob.digest, size: manifestBlob.size }, opts.ref ? [opts.ref] : []);
}

/** `berth import`: a root filesystem tarball becomes a one-layer image. */
export async function importTarball(store: ImageStore, input: Readable, opts: ImportOptions = {}): Promise<Image> {
  return store.withLease(async (keep) => {
    const layer = await storeLayer(store, input, keep);
    return commitImage(store, [{ ...layer, comment: opts.message }], opts, keep);
  });
}
