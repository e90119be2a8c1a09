// pull: a reference from a registry into the image store.
//
//   manifest (tag or digest; an index picks the platform) -> config -> layers, each layer:
//     downloaded (at most `concurrency` at once) into a resumable ingest of the content store,
//     retried with Range from where it broke, verified (size, digest) before it enters blobs/;
//     and unpacked while it downloads: the unpacker reads the ingest file as it grows, so the
//     data crosses the network once and is decompressed once. Layers unpack in order (each on
//     its parent); a layer's unpack finishes only after its blob is verified.
//   -> the image enters the store's index.
// A failure anywhere removes what this pull added (blobs under its lease, snapshots it
// unpacked) and keeps only the partial download in ingest/, which the next pull resumes.
import { setMaxListeners } from "node:events";
import * as fs from "node:fs";
import { Readable } from "node:stream";
import { BerthError, invalidArgument, notFound, unavailable } from "../../errors.js";
import { parseReference, type Image, type ImageStore, type Ingest, type Reference } from "../../image/index.js";
import {
  MediaType,
  chainIds,
  digestOf,
  hostPlatform,
  parseDigest,
  parseImageConfig,
  parseManifestOrIndex,
  platformMatches,
  type Descriptor,
  type ImageManifest,
  type Platform,
} from "../../oci/index.js";
import { shortId, type PullEvent } from "./events.js";
import { backoff, isTransient, readBody, sleep, type RegistryClient } from "./http.js";
import { clientsFor, type RegistryOptions } from "./options.js";

export interface PullOptions extends RegistryOptions {
  /** the platform to pick from an index (default: this host's) */
  platform?: Platform;
  onEvent?: (e: PullEvent) => void;
  /** layers downloaded at once (default 3) */
  concurrency?: number;
}

export interface PullResult {
  image: Image;
  /** the name it was stored under (docker.io/library/busybox:latest) */
  name: string;
  /** the manifest digest the reference resolved to (an index's, when it named one) */
  digest: string;
  upToDate: boolean;
}

export const MANIFEST_ACCEPT = [MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST, MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST_V1_SIGNED, MediaType.DOCKER_MANIFEST_V1].join(", ");
const MANIFEST_LIMIT = 4 << 20;
const PROGRESS_EVERY_MS = 100;
/** how long (in 200 ms waits) a pull waits for another process downloading the same blob: 30 min */
const WAIT_FOR_OTHER_TRIES = 9000;

export const platformString = (p: Platform) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
export const pullScope = (ref: Reference) => `repository:${ref.path}:pull`;

/** A manifest or index by tag or digest, its bytes checked against the digest it should have. */
export async function fetchManifest(client: RegistryClient, ref: Reference, reference: string, signal?: AbortSignal) {
  const what = reference.includes(":") ? `manifest ${reference}` : `tag ${reference}`;
  const r = await client.fetch({ path: `/v2/${ref.path}/manifests/${reference}`, headers: { Accept: MANIFEST_ACCEPT }, scope: [pullScope(ref)], what, signal }, MANIFEST_LIMIT);
  const mediaType = String(r.headers["content-type"] ?? "").split(";")[0]!.trim();
  const pinned = reference.includes(":") ? reference : typeof r.headers["docker-content-digest"] === "string" ? r.headers["docker-content-digest"] : undefined;
  const algorithm = pinned ? parseDigest(pinned, what).algorithm : "sha256";
  const digest = digestOf(r.data, algorithm);
  if (pinned && digest !== pinned) throw invalidArgument(`${what}: digest mismatch: the registry sent content with digest ${digest}, expected ${pinned}`);
  const doc = parseManifestOrIndex(r.data, what, mediaType === "application/json" || mediaType === "text/plain" ? undefined : mediaType || undefined);
  const type = doc.kind === "index" ? (doc.index.mediaType ?? (mediaType || MediaType.OCI_INDEX)) : (doc.manifest.mediaType ?? (mediaType || MediaType.OCI_MANIFEST));
  return { data: r.data, digest, mediaType: type, doc };
}

/** A small blob (a config) read whole and verified. */
async function fetchSmallBlob(client: RegistryClient, ref: Reference, desc: Descriptor, what: string, signal?: AbortSignal): Promise<Buffer> {
  const r = await client.fetch({ path: `/v2/${ref.path}/blobs/${desc.digest}`, scope: [pullScope(ref)], what, signal }, Math.max(desc.size, 0) + 1);
  if (r.data.length !== desc.size) throw invalidArgument(`${what}: size mismatch: expected ${desc.size} bytes, got ${r.data.length}`);
  const got = digestOf(r.data, parseDigest(desc.digest, what).algorithm);
  if (got !== desc.digest) throw invalidArgument(`${what}: digest mismatch: got ${got}`);
  return r.data;
}

/** A download the unpacker follows: the bytes in the ingest file so far, and how it ended. */
class Growing {
  fh?: fs.promises.FileHandle;
  written = 0;
  /** verified and in the store */
  done = false;
  error?: unknown;
  private wake: (() => void)[] = [];
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor() {
    this.settled = new Promise((r) => (this.settle = r));
  }

  notify(): void {
    for (const w of this.wake.splice(0)) w();
  }

  finish(error?: unknown): void {
    if (error !== undefined) this.error = error;
    else this.done = true;
    this.notify();
    this.settle();
  }

  wait(): Promise<void> {
    return new Promise((r) => this.wake.push(r));
  }

  /** The file's bytes as they arrive; ends once the blob is verified, throws if it never is. */
  async *follow(): AsyncGenerator<Buffer> {
    for (let pos = 0; ; ) {
      if (pos < this.written) {
        // a buffer of its own for each read: what is yielded is kept (by gunzip) while the next read fills
        const buf = Buffer.allocUnsafe(Math.min(1 << 20, this.written - pos));
        const { bytesRead } = await this.fh!.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) throw invalidArgument("layer: the download file shrank");
        pos += bytesRead;
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      } else if (this.error !== undefined) throw this.error;
      else if (this.done) return;
      else await this.wait();
    }
  }
}

/** Bounded parallelism: runs `work` for each item, at most `n` at once, in order of items. */
function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await work();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

interface LayerJob {
  desc: Descriptor;
  growing: Growing;
}

export async function pullImage(store: ImageStore, refText: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refText);
  const emit = opts.onEvent ?? (() => undefined);
  const clients = clientsFor(ref.domain, "pull", opts);
  try {
    // mirrors first; a mirror that fails or lacks the image falls through to the next
    let lastError: unknown;
    for (const client of clients) {
      try {
        return await pullFrom(client, store, ref, opts, emit);
      } catch (e) {
        lastError = e;
        if (!client.endpoint.mirror || (e instanceof BerthError && e.kind === "InvalidArgument" && /digest|size/.test(e.message))) throw e;
      }
    }
    throw lastError;
  } catch (e) {
    if (e instanceof BerthError) throw new BerthError(e.kind, `pull ${ref.familiar()}: ${e.message}`, { hint: e.hint });
    throw e;
  } finally {
    for (const c of clients) c.close();
  }
}

async function pullFrom(client: RegistryClient, store: ImageStore, ref: Reference, opts: PullOptions, emit: (e: PullEvent) => void): Promise<PullResult> {
  const signal = opts.signal;
  const want = opts.platform ?? hostPlatform();
  const top = await fetchManifest(client, ref, ref.digest ?? ref.tag!, signal);
  let manifest: ImageManifest;
  let mdesc: Descriptor;
  let mdata: Buffer;
  let index: { digest: string } | undefined;
  if (top.doc.kind === "index") {
    const candidates = top.doc.index.manifests.filter((m) => platformMatches(want, m.platform));
    // an exact variant first (arm64/v8 over an unmarked arm64), then the newest the CPU runs
    const pick = candidates.find((m) => m.platform?.variant === want.variant) ?? candidates[0];
    if (!pick) {
      const have = top.doc.index.manifests.filter((m) => m.platform && m.platform.architecture !== "unknown").map((m) => platformString(m.platform!));
      throw notFound(`no image for ${platformString(want)} in the index (it has ${have.join(", ") || "none"})`);
    }
    const sub = await fetchManifest(client, ref, pick.digest, signal);
    if (sub.doc.kind !== "manifest") throw invalidArgument(`manifest ${pick.digest}: expected an image manifest, found an index inside the index`);
    if (sub.data.length !== pick.size && pick.size !== undefined) throw invalidArgument(`manifest ${pick.digest}: size mismatch: the index says ${pick.size} bytes, got ${sub.data.length}`);
    manifest = sub.doc.manifest;
    mdata = sub.data;
    mdesc = { mediaType: sub.mediaType, digest: sub.digest, size: sub.data.length, ...(pick.platform ? { platform: pick.platform } : {}) };
    index = { digest: top.digest };
  } else {
    manifest = top.doc.manifest;
    mdata = top.data;
    mdesc = { mediaType: top.mediaType, digest: top.digest, size: top.data.length };
  }
  if (manifest.layers.some((l) => l.mediaType.includes("nondistributable") || l.mediaType.includes("foreign"))) {
    // foreign layers live outside the registry (Windows base layers): not for Linux hosts
    throw invalidArgument(`manifest ${mdesc.digest}: it has foreign (non-distributable) layers, which berth does not fetch`);
  }
  const name = ref.toString();
  const before = (() => {
    try {
      return store.resolve(name);
    } catch {
      return undefined;
    }
  })();
  emit({ type: "resolved", ref: ref.familiar(), digest: index?.digest ?? mdesc.digest, mediaType: index ? top.mediaType : mdesc.mediaType, ...(mdesc.platform ? { platform: platformString(mdesc.platform) } : {}), layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })) });

  return store.withLease(async (keep) => {
    // the config first: it names the diffIDs that every unpack checks
    keep(manifest.config.digest);
    if (!store.content.has(manifest.config.digest)) {
      const data = await fetchSmallBlob(client, ref, manifest.config, `config ${manifest.config.digest}`, signal);
      store.content.writeBlob(data, { digest: manifest.config.digest, size: manifest.config.size });
    }
    const config = parseImageConfig(store.content.read(manifest.config.digest), `image config ${manifest.config.digest}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) throw invalidArgument(`image ${manifest.config.digest}: the config lists ${diffIds.length} layers, the manifest ${manifest.layers.length}`);
    const chain = chainIds(diffIds);

    const abort = new AbortController();
    setMaxListeners(0, abort.signal); // every request of every layer listens to it
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const jobs = new Map<string, LayerJob>();
    const downloads: Promise<void>[] = [];
    const limit = limiter(Math.max(1, opts.concurrency ?? 3));
    for (const l of manifest.layers) {
      keep(l.digest);
      if (jobs.has(l.digest)) continue;
      if (store.content.has(l.digest)) {
        emit({ type: "layer", digest: l.digest, status: "exists" });
        continue;
      }
      emit({ type: "layer", digest: l.digest, status: "waiting", total: l.size });
      const job: LayerJob = { desc: l, growing: new Growing() };
      jobs.set(l.digest, job);
      downloads.push(limit(() => downloadLayer(client, store, ref, job, emit, opts, abort.signal)).catch((e) => {
        abort.abort(e); // one layer failing ends the pull: stop the others
      }));
    }

    const unpacked: string[] = [];
    try {
      for (let i = 0; i < manifest.layers.length; i++) {
        const l = manifest.layers[i]!;
        const job = jobs.get(l.digest);
        if (store.snapshots.has(chain[i]!)) {
          // unpacked already (another image has the chain): the blob is only being fetched for the store
          if (job) void job.growing.settled.then(() => job.growing.done && emit({ type: "layer", digest: l.digest, status: "done" }));
          continue;
        }
        let source: Readable;
        if (job) {
          if (!job.growing.fh) await Promise.race([job.growing.wait(), job.growing.settled]);
          if (job.growing.error !== undefined) throw job.growing.error;
          source = Readable.from(job.growing.follow(), { objectMode: false });
        } else {
          if (abort.signal.aborted) throw abort.signal.reason;
          emit({ type: "layer", digest: l.digest, status: "extracting" });
          source = store.content.createReadStream(l.digest) as Readable;
        }
        let unpacking = true;
        if (job) void job.growing.settled.then(() => unpacking && job.growing.done && emit({ type: "layer", digest: l.digest, status: "extracting" }));
        try {
          await store.snapshots.unpack(chain[i]!, chain[i - 1], source, diffIds[i]!);
          unpacking = false;
        } catch (e) {
          unpacking = false;
          // a broken download explains a broken unpack better than gzip's or tar's view of it:
          // let the download end (it is bounded by its retries) and verify first
          if (job) {
            await job.growing.settled;
            if (job.growing.error !== undefined) throw job.growing.error;
          }
          throw e;
        }
        unpacked.push(chain[i]!);
        if (!job || job.growing.done) emit({ type: "layer", digest: l.digest, status: "done" });
      }
      await Promise.all(downloads);
      if (abort.signal.aborted) throw abort.signal.reason;
      for (const job of jobs.values()) if (!job.growing.done) throw job.growing.error ?? unavailable(`layer ${job.desc.digest}: download did not finish`);
      // the manifest last: a manifest in the store means everything it names is there (the
      // index it was picked from is not kept: the store names the platform's manifest)
      keep(mdesc.digest);
      store.content.writeBlob(mdata, { digest: mdesc.digest, size: mdesc.size });
      const image = await store.add(mdesc, [name]);
      const upToDate = before?.manifest.digest === mdesc.digest;
      emit({ type: "pulled", ref: ref.familiar(), id: image.id, digest: index?.digest ?? mdesc.digest, upToDate });
      return { image, name, digest: index?.digest ?? mdesc.digest, upToDate };
    } catch (e) {
      abort.abort(e);
      await Promise.allSettled(downloads);
      const used = new Set(store.list().flatMap((img) => img.chain));
      for (const c of unpacked.reverse()) {
        if (used.has(c)) continue;
        try {
          store.snapshots.remove(c);
        } catch {
          // another pull builds on it meanwhile: gc decides later
        }
      }
      throw e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      await Promise.all([...jobs.values()].map((j) => j.growing.fh?.close().catch(() => undefined)));
    }
  });
}

/**
 * Downloads one layer into a resumable ingest, resuming with Range after a broken connection
 * (a try that made progress does not count against the retries), and verifies it.
 */
async function downloadLayer(client: RegistryClient, store: ImageStore, ref: Reference, job: LayerJob, emit: (e: PullEvent) => void, opts: PullOptions, signal: AbortSignal): Promise<void> {
  const { desc, growing } = job;
  const what = `layer ${shortId(desc.digest)}`;
  let ingest: Ingest | undefined;
  try {
    if (signal.aborted) throw signal.reason;
    // another berth process downloading the same blob holds its ingest: wait for it to finish
    // (the blob appears) or to give up (the ingest is free again, with its bytes to resume from)
    for (let waited = 0; ; waited++) {
      if (store.content.has(desc.digest)) {
        growing.fh = await fs.promises.open(store.content.path(desc.digest), "r");
        growing.written = desc.size;
        emit({ type: "layer", digest: desc.digest, status: "downloaded", current: desc.size, total: desc.size });
        growing.finish();
        return;
      }
      try {
        ingest = store.content.openIngest(`pull ${desc.digest}`, { digest: desc.digest, size: desc.size });
        break;
      } catch (e) {
        if (!(e instanceof BerthError && e.kind === "FailedPrecondition" && /in use by process/.test(e.message)) || waited >= WAIT_FOR_OTHER_TRIES) throw e;
        if (waited === 0) emit({ type: "layer", digest: desc.digest, status: "waiting", total: desc.size, message: "another berth process is downloading it" });
        await sleep(200, signal);
      }
    }
    growing.fh = await fs.promises.open(ingest.path, "r");
    growing.written = ingest.offset;
    growing.notify();
    const retries = opts.retries ?? 5;
    let last = 0;
    const progress = (force = false) => {
      const now = Date.now();
      if (!force && now - last < PROGRESS_EVERY_MS) return;
      last = now;
      emit({ type: "layer", digest: desc.digest, status: "downloading", current: ingest!.offset, total: desc.size });
    };
    progress(true);
    for (let failures = 0; ingest.offset < desc.size; ) {
      const from = ingest.offset;
      try {
        const r = await client.request({
          path: `/v2/${ref.path}/blobs/${desc.digest}`,
          headers: from > 0 ? { Range: `bytes=${from}-` } : {},
          scope: [pullScope(ref)],
          what: `${what}`,
          signal,
          once: failures > 0, // the loop here does the retrying
        });
        // a registry that ignores Range sends it all again: skip what we have
        let skip = 0;
        if (from > 0 && r.status === 200) skip = from;
        else if (r.status === 206) {
          const m = /^bytes (\d+)-/.exec(String(r.headers["content-range"] ?? ""));
          if (!m || Number(m[1]) !== from) {
            r.body.destroy();
            throw invalidArgument(`${what}: asked for bytes from ${from}, the registry sent ${String(r.headers["content-range"] ?? "no Content-Range")}`);
          }
        }
        for await (const c of r.body) {
          let chunk = c as Buffer;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          ingest.append(chunk); // more than desc.size fails here, at once
          growing.written = ingest.offset;
          growing.notify();
          progress();
        }
        if (ingest.offset < desc.size) throw Object.assign(new Error(`unexpected end of data after ${ingest.offset} of ${desc.size} bytes`), { code: "ERR_STREAM_PREMATURE_CLOSE" });
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (!isTransient(e)) throw e;
        if (ingest.offset > from) failures = 0; // progress: the connection is worth another go
        if (++failures > retries) {
          const why = (e as Error).message.startsWith(`${what}: `) ? (e as Error).message.slice(what.length + 2) : (e as Error).message;
          throw unavailable(`${what}: download failed after ${failures} tries: ${why} (the ${ingest.offset} bytes so far are kept for the next pull)`);
        }
        emit({ type: "layer", digest: desc.digest, status: "retrying", current: ingest.offset, total: desc.size, message: (e as Error).message });
        await sleep(backoff(failures, opts.backoffMs), signal);
      }
    }
    progress(true);
    emit({ type: "layer", digest: desc.digest, status: "verifying", current: desc.size, total: desc.size });
    try {
      await ingest.flush();
      ingest.commit(); // size and digest checked; a mismatch removes the data
    } catch (e) {
      if (!(e instanceof BerthError)) throw e;
      const got = /digest mismatch: got (\S+)/.exec(e.message);
      throw new BerthError(e.kind, `${what}: ${got ? `digest mismatch: expected ${desc.digest}, the registry sent content with digest ${got[1]}` : e.message.replace(/^blob \S+: /, "")}`);
    }
    ingest = undefined;
    emit({ type: "layer", digest: desc.digest, status: "downloaded", current: desc.size, total: desc.size });
    growing.finish();
  } catch (e) {
    // a pull that failed for a broken connection keeps the bytes for the next pull to resume;
    // one that failed for bad content (here or in another layer) keeps nothing
    if (ingest) {
      if (isTransient(signal.aborted ? signal.reason : e)) ingest.close();
      else ingest.abort();
    }
    growing.finish(e);
    throw e;
  }
}

/** The tags of a repository (`pull --all-tags`), following pagination links. */
export async function listTags(client: RegistryClient, ref: Reference, signal?: AbortSignal): Promise<string[]> {
  const tags: string[] = [];
  let path: string | undefined = `/v2/${ref.path}/tags/list`;
  for (let page = 0; path && page < 1000; page++) {
    const r = await client.request({ path, scope: [pullScope(ref)], what: `tags of ${ref.name}`, signal });
    const doc = JSON.parse((await readBody(r.body, 16 << 20, `tags of ${ref.name}`)).toString("utf8")) as { tags?: string[] | null };
    tags.push(...(doc.tags ?? []));
    const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(r.headers.link ?? ""));
    path = link ? link[1] : undefined;
  }
  return tags;
}
