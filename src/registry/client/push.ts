// push: an image of the store to a registry, as docker push does it: each layer (and the
// config) is skipped when the registry has it (HEAD), mounted from another repository of the
// same registry that the image is known under, or uploaded (monolithic, or in chunks when
// `chunkSize` is set and the blob is larger); the manifest goes last, so the tag never names
// an image whose blobs are not all there.
import { Transform, type Readable } from "node:stream";
import { failedPrecondition, invalidArgument, notFound, BerthError } from "../../errors.js";
import { parseReference, type ImageStore, type Reference } from "../../image/index.js";
import { MediaType, parseManifestOrIndex, type Descriptor } from "../../oci/index.js";
import { shortId, type PushEvent } from "./events.js";
import { backoff, isTransient, sleep, type RegistryClient } from "./http.js";
import { clientsFor, type RegistryOptions } from "./options.js";

export interface PushOptions extends RegistryOptions {
  onEvent?: (e: PushEvent) => void;
  /** blobs uploaded at once (default 3) */
  concurrency?: number;
  /** upload blobs larger than this in PATCH chunks of this size (default: one PUT) */
  chunkSize?: number;
}

export interface PushResult {
  /** the full destination name */
  ref: string;
  tag?: string;
  digest: string;
  size: number;
}

const PROGRESS_EVERY_MS = 100;

/** Strips Podman's transport prefix: docker://host/repo:tag. */
function destination(s: string): string {
  if (s.startsWith("docker://")) return s.slice("docker://".length);
  if (/^[a-z-]+:(?!\d)/.test(s) && !s.includes("/")) throw invalidArgument(`push: destination ${JSON.stringify(s)}: only the docker:// transport (a registry) is supported`);
  return s;
}

export async function pushImage(store: ImageStore, source: string, dest: string | undefined, opts: PushOptions = {}): Promise<PushResult> {
  const image = store.resolve(source);
  const target = parseReference(destination(dest ?? source));
  if (dest === undefined && !image.names.includes(target.toString())) throw notFound(`push: an image does not exist locally with the tag: ${source}`);
  const label = `push ${target.familiar()}`;
  const clients = clientsFor(target.domain, "push", opts);
  const client = clients[0]!;
  try {
    const bytes = store.content.read(image.manifest.digest);
    const doc = parseManifestOrIndex(bytes, `manifest ${image.manifest.digest}`, image.manifest.mediaType);
    if (doc.kind !== "manifest") throw invalidArgument(`image ${image.id}: not a single-platform manifest`);
    const m = doc.manifest;
    for (const b of [m.config, ...m.layers]) {
      if (!store.content.has(b.digest)) throw failedPrecondition(`image ${image.id.slice(7, 19)}: blob ${b.digest} is not in the content store, so it cannot be pushed`);
    }
    // the same registry under another repository: blobs can be mounted from there
    const sources = image.names.map((n) => parseReference(n)).filter((r) => r.domain === target.domain && r.path !== target.path).map((r) => r.path);
    const emit = opts.onEvent ?? (() => undefined);
    emit({ type: "preparing", repository: target.name, layers: m.layers.map((l) => ({ digest: l.digest, size: l.size })) });
    const limit = Math.max(1, opts.concurrency ?? 3);
    const queue = [...new Map([...m.layers, m.config].map((d) => [d.digest, d])).values()];
    const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let d = queue.shift(); d; d = queue.shift()) await pushBlob(client, store, target, d, sources, d.digest === m.config.digest ? () => undefined : emit, opts);
    });
    const results = await Promise.allSettled(workers);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const mediaType = m.mediaType ?? image.manifest.mediaType ?? MediaType.OCI_MANIFEST;
    const reference = target.tag ?? target.digest!;
    const r = await client.request({
      method: "PUT",
      path: `/v2/${target.path}/manifests/${reference}`,
      headers: { "Content-Type": mediaType },
      body: bytes,
      scope: [`repository:${target.path}:pull,push`],
      what: `manifest ${target.familiar()}`,
      signal: opts.signal,
    });
    r.body.resume();
    const said = r.headers["docker-content-digest"];
    if (typeof said === "string" && said !== image.manifest.digest) throw invalidArgument(`manifest ${target.familiar()}: the registry stored it as ${said}, expected ${image.manifest.digest}`);
    emit({ type: "pushed", ref: target.toString(), ...(target.tag ? { tag: target.tag } : {}), digest: image.manifest.digest, size: bytes.length });
    return { ref: target.toString(), ...(target.tag ? { tag: target.tag } : {}), digest: image.manifest.digest, size: bytes.length };
  } catch (e) {
    if (e instanceof BerthError) throw new BerthError(e.kind, `${label}: ${e.message}`, { hint: e.hint });
    throw e;
  } finally {
    for (const c of clients) c.close();
  }
}

/** Counts the bytes that pass, for progress. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

function withQuery(location: string, key: string, value: string): string {
  return `${location}${location.includes("?") ? "&" : "?"}${key}=${encodeURIComponent(value)}`;
}

async function pushBlob(client: RegistryClient, store: ImageStore, target: Reference, d: Descriptor, sources: string[], emit: (e: PushEvent) => void, opts: PushOptions): Promise<void> {
  const path = target.path;
  const what = `layer ${shortId(d.digest)}`;
  const scope = [`repository:${path}:pull,push`];
  const signal = opts.signal;
  emit({ type: "layer", digest: d.digest, status: "waiting", total: d.size });
  const head = await client.request({ method: "HEAD", path: `/v2/${path}/blobs/${d.digest}`, scope, what, ok: (s) => s === 200 || s === 404, signal });
  head.body.resume();
  if (head.status === 200) {
    emit({ type: "layer", digest: d.digest, status: "exists" });
    return;
  }
  const retries = opts.retries ?? 5;
  for (let failures = 0; ; ) {
    try {
      let location: string | undefined;
      for (const from of sources) {
        const r = await client.request({ method: "POST", path: `/v2/${path}/blobs/uploads/?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from)}`, headers: { "Content-Length": "0" }, scope: [...scope, `repository:${from}:pull`], what, signal });
        r.body.resume();
        if (r.status === 201) {
          emit({ type: "layer", digest: d.digest, status: "mounted", from });
          return;
        }
        location = r.headers.location; // the registry opened an ordinary upload instead
        break;
      }
      if (!location) {
        const r = await client.request({ method: "POST", path: `/v2/${path}/blobs/uploads/`, headers: { "Content-Length": "0" }, scope, what, signal });
        r.body.resume();
        location = r.headers.location;
      }
      if (!location) throw invalidArgument(`${what}: the registry opened an upload without a Location`);
      let sent = 0;
      let last = 0;
      const progress = (n: number) => {
        sent += n;
        const now = Date.now();
        if (now - last < PROGRESS_EVERY_MS && sent < d.size) return;
        last = now;
        emit({ type: "layer", digest: d.digest, status: "uploading", current: sent, total: d.size });
      };
      const chunk = opts.chunkSize && opts.chunkSize > 0 && d.size > opts.chunkSize ? opts.chunkSize : 0;
      const stream = (start: number, end: number) => () => (store.content.createReadStream(d.digest, { start, end }) as Readable).pipe(counter(progress));
      if (chunk === 0) {
        const r = await client.request({
          method: "PUT",
          path: withQuery(location, "digest", d.digest),
          headers: { "Content-Type": "application/octet-stream", "Content-Length": String(d.size) },
          body: d.size > 0 ? stream(0, d.size - 1) : Buffer.alloc(0),
          scope,
          what,
          once: true,
          signal,
        });
        r.body.resume();
      } else {
        for (let start = 0; start < d.size; start += chunk) {
          const end = Math.min(d.size, start + chunk) - 1;
          const r = await client.request({
            method: "PATCH",
            path: location,
            headers: { "Content-Type": "application/octet-stream", "Content-Length": String(end - start + 1), "Content-Range": `${start}-${end}` },
            body: stream(start, end),
            scope,
            what,
            once: true,
            signal,
          });
          r.body.resume();
          location = r.headers.location ?? location;
        }
        const r = await client.request({ method: "PUT", path: withQuery(location, "digest", d.digest), headers: { "Content-Length": "0" }, body: Buffer.alloc(0), scope, what, once: true, signal });
        r.body.resume();
      }
      emit({ type: "layer", digest: d.digest, status: "pushed", current: d.size, total: d.size });
      return;
    } catch (e) {
      // a broken upload starts again with a fresh session
      if (signal?.aborted || !isTransient(e) || ++failures > retries) throw e;
      emit({ type: "layer", digest: d.digest, status: "retrying", message: (e as Error).message });
      await sleep(backoff(failures, opts.backoffMs), signal);
    }
  }
}
