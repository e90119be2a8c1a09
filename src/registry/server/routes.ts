// The OCI distribution API (distribution-spec v1.1) over RegistryStorage: one function per
// endpoint, each checking its name, reference and digest before it touches the disk.
//
//   GET|HEAD /v2/                                    API version check
//   GET      /v2/_catalog[?n=&last=]                 repositories
//   GET      /v2/<name>/tags/list[?n=&last=]         tags, sorted, Link for the next page
//   GET|HEAD /v2/<name>/manifests/<ref>              by tag or digest, Accept negotiated
//   PUT      /v2/<name>/manifests/<ref>              verified, its blobs must be in <name>
//   DELETE   /v2/<name>/manifests/<ref>              a digest (with its tags) or one tag
//   GET|HEAD /v2/<name>/blobs/<digest>               Range supported
//   DELETE   /v2/<name>/blobs/<digest>               unlinks it from <name>
//   POST     /v2/<name>/blobs/uploads/[?digest=|?mount=&from=]
//   GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id>[?digest=]
//   GET      /v2/<name>/referrers/<digest>[?artifactType=]

import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { BerthError } from "../../errors.js";
import { digestOf, MediaType, parseManifestOrIndex, type Descriptor } from "../../oci/index.js";
import { registryError, RegistryError } from "./errors.js";
import { checkDigest, checkName, checkReference } from "./names.js";
import type { RegistryStorage } from "./storage.js";
import type { Session, Uploads } from "./uploads.js";

/** Manifests larger than this are refused with 413 (the spec asks registries to take at least 4 MiB). */
export const MANIFEST_MAX = 4 << 20;

export interface RouteContext {
  storage: RegistryStorage;
  uploads: Uploads;
  readOnly: boolean;
}

type Query = URLSearchParams;

function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: string | Buffer): void {
  const data = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, "Content-Length": headers["Content-Length"] ?? data?.length ?? 0 });
  res.end(req.method === "HEAD" ? undefined : data);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(req, res, status, { "Content-Type": "application/json", ...headers }, JSON.stringify(value));
}

const methodNotAllowed = (req: IncomingMessage) => registryError("UNSUPPORTED", `${req.method} is not supported on ${(req.url ?? "").split("?")[0]}`);

/** Bodies up to this size are read to their end even when refused, so the client sees the answer. */
export const DRAIN_MAX = 16 << 20;

/** Reads a body of at most `max` bytes (413 past it). */
async function readBody(req: IncomingMessage, max: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  const tooBig = () => registryError("SIZE_INVALID", `${what} is larger than ${max} bytes`, { limit: max }, 413);
  if (declared > DRAIN_MAX) throw tooBig();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > DRAIN_MAX) throw tooBig(); // an endless body: answer and hang up
    if (size <= max) chunks.push(chunk as Buffer);
  }
  if (size > max) throw tooBig();
  return Buffer.concat(chunks);
}

/** n and last of a paginated list; the page and, when more follow, the next page's Link. */
function paginate(items: string[], q: Query, base: string): { page: string[]; link?: string } {
  const nRaw = q.get("n");
  const last = q.get("last");
  let n: number | undefined;
  if (nRaw !== null) {
    if (!/^\d{1,9}$/.test(nRaw)) throw registryError("UNSUPPORTED", `n=${JSON.stringify(nRaw.slice(0, 40))}: expected a non-negative integer`, undefined, 400);
    n = Number(nRaw);
  }
  let rest = last === null ? items : items.filter((t) => t > last);
  if (n === undefined) return { page: rest };
  const page = rest.slice(0, n);
  rest = rest.slice(n);
  if (n === 0 || rest.length === 0) return { page };
  return { page, link: `<${base}?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"` };
}

// ---- base, catalog, tags --------------------------------------------------------------------

export function base(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed(req);
  sendJson(req, res, 200, {});
}

export function catalog(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, q: Query): void {
  if (req.method !== "GET") throw methodNotAllowed(req);
  const { page, link } = paginate(ctx.storage.repositories(), q, "/v2/_catalog");
  sendJson(req, res, 200, { repositories: page }, link ? { Link: link } : {});
}

export function tagsList(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, q: Query): void {
  if (req.method !== "GET") throw methodNotAllowed(req);
  checkName(name);
  if (!ctx.storage.repoExists(name)) throw registryError("NAME_UNKNOWN", `repository ${name} not known to registry`, { name });
  const { page, link } = paginate(ctx.storage.tags(name), q, `/v2/${name}/tags/list`);
  sendJson(req, res, 200, { name, tags: page }, link ? { Link: link } : {});
}

// ---- manifests ------------------------------------------------------------------------------

function accepts(req: IncomingMessage, mediaType: string): boolean {
  const raw = req.headers.accept;
  if (raw === undefined) return true;
  const types = (Array.isArray(raw) ? raw.join(",") : raw)
    .split(",")
    .map((t) => t.split(";")[0]!.trim().toLowerCase())
    .filter(Boolean);
  return types.length === 0 || types.some((t) => t === "*/*" || t === "application/*" || t === mediaType.toLowerCase());
}

export async function manifests(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, reference: string): Promise<void> {
  checkName(name);
  const ref = checkReference(reference);
  switch (req.method) {
    case "GET":
    case "HEAD":
      return getManifest(ctx, req, res, name, ref);
    case "PUT":
      return putManifest(ctx, req, res, name, ref);
    case "DELETE":
      return deleteManifest(ctx, req, res, name, ref);
    default:
      throw methodNotAllowed(req);
  }
}

function resolve(ctx: RouteContext, name: string, ref: ReturnType<typeof checkReference>): string {
  const digest = ref.digest ?? ctx.storage.tagTarget(name, ref.tag);
  if (digest === undefined) {
    if (!ctx.storage.repoExists(name)) throw registryError("NAME_UNKNOWN", `repository ${name} not known to registry`, { name });
    throw registryError("MANIFEST_UNKNOWN", `manifest ${name}:${ref.tag} unknown`, { name, tag: ref.tag });
  }
  return digest;
}

function getManifest(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, ref: ReturnType<typeof checkReference>): void {
  const digest = resolve(ctx, name, ref);
  const m = ctx.storage.manifest(name, digest);
  if (!m) throw registryError("MANIFEST_UNKNOWN", `manifest ${name}@${digest} unknown`, { name, digest });
  if (!accepts(req, m.mediaType)) {
    throw registryError("MANIFEST_UNKNOWN", `manifest ${name}@${digest} is ${m.mediaType}, which the request's Accept header does not list`, { name, digest, mediaType: m.mediaType });
  }
  const headers = { "Content-Type": m.mediaType, "Docker-Content-Digest": digest, ETag: `"${digest}"`, "Content-Length": m.size };
  send(req, res, 200, headers, req.method === "HEAD" ? undefined : ctx.storage.content.read(digest));
}

async function putManifest(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, ref: ReturnType<typeof checkReference>): Promise<void> {
  const data = await readBody(req, MANIFEST_MAX, "manifest");
  const contentType = req.headers["content-type"]?.split(";")[0]!.trim();
  let parsed: ReturnType<typeof parseManifestOrIndex>;
  try {
    parsed = parseManifestOrIndex(data, "manifest", contentType);
  } catch (e) {
    if (e instanceof BerthError) throw registryError("MANIFEST_INVALID", e.message);
    throw e;
  }
  const doc = parsed.kind === "index" ? parsed.index : parsed.manifest;
  const known = new Set<string>([MediaType.OCI_INDEX, MediaType.OCI_MANIFEST, MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST_LIST]);
  const mediaType = doc.mediaType ?? (contentType && known.has(contentType) ? contentType : parsed.kind === "index" ? MediaType.OCI_INDEX : MediaType.OCI_MANIFEST);
  const digest = ref.digest !== undefined ? digestOf(data, checkDigest(ref.digest).algorithm) : digestOf(data);
  if (ref.digest !== undefined && digest !== ref.digest) {
    throw registryError("DIGEST_INVALID", `manifest digest ${ref.digest} did not match its content (${digest})`, { digest: ref.digest });
  }
  // what the manifest points at must already be in this repository
  const missing = (d: Descriptor, what: string, present: (digest: string) => number | undefined) => {
    if (d.urls && d.urls.length > 0) return; // a foreign layer: served from its URLs, not from here
    let size: number | undefined;
    try {
      size = present(d.digest);
    } catch {
      size = undefined;
    }
    if (size === undefined) throw registryError("MANIFEST_BLOB_UNKNOWN", `manifest ${what} ${d.digest} is not in repository ${name}: push it first`, { digest: d.digest });
    if (size !== d.size) throw registryError("MANIFEST_INVALID", `manifest ${what} ${d.digest}: size ${d.size} in the manifest, ${size} in the registry`, { digest: d.digest });
  };
  if (parsed.kind === "manifest") {
    missing(parsed.manifest.config, "config", (d) => ctx.storage.blobSize(name, d));
    parsed.manifest.layers.forEach((l, i) => missing(l, `layers[${i}]`, (d) => ctx.storage.blobSize(name, d)));
  } else {
    parsed.index.manifests.forEach((m, i) => missing(m, `manifests[${i}]`, (d) => ctx.storage.manifest(name, d)?.size));
  }
  let subject: string | undefined;
  if (doc.subject !== undefined) {
    try {
      subject = checkDigest(doc.subject.digest, "manifest subject.digest").digest;
    } catch (e) {
      throw registryError("MANIFEST_INVALID", (e as Error).message);
    }
  }
  ctx.storage.putManifest(name, { digest, mediaType, data, tag: ref.tag, subject });
  const headers: Record<string, string> = { Location: `/v2/${name}/manifests/${digest}`, "Docker-Content-Digest": digest };
  if (subject !== undefined) headers["OCI-Subject"] = subject;
  send(req, res, 201, headers);
}

function deleteManifest(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, ref: ReturnType<typeof checkReference>): void {
  if (ref.tag !== undefined) {
    if (!ctx.storage.deleteTag(name, ref.tag)) throw registryError("MANIFEST_UNKNOWN", `tag ${name}:${ref.tag} unknown`, { name, tag: ref.tag });
  } else if (!ctx.storage.deleteManifest(name, ref.digest)) {
    throw registryError("MANIFEST_UNKNOWN", `manifest ${name}@${ref.digest} unknown`, { name, digest: ref.digest });
  }
  send(req, res, 202);
}

// ---- blobs ----------------------------------------------------------------------------------

/** The byte range a Range header asks for, or "unsatisfiable"; undefined for the whole blob. */
function byteRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // not a single range we read: the whole blob, as RFC 9110 allows
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return undefined;
  }
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

export async function blobs(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, rawDigest: string): Promise<void> {
  checkName(name);
  const { digest } = checkDigest(rawDigest);
  if (req.method === "DELETE") {
    if (!ctx.storage.unlinkBlob(name, digest)) throw registryError("BLOB_UNKNOWN", `blob ${digest} unknown to repository ${name}`, { digest });
    return send(req, res, 202);
  }
  if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed(req);
  const size = ctx.storage.blobSize(name, digest);
  if (size === undefined) throw registryError("BLOB_UNKNOWN", `blob ${digest} unknown to repository ${name}`, { digest });
  const headers: Record<string, string | number> = { "Content-Type": "application/octet-stream", "Docker-Content-Digest": digest, ETag: `"${digest}"`, "Accept-Ranges": "bytes" };
  const range = byteRange(typeof req.headers.range === "string" ? req.headers.range : undefined, size);
  if (range === "unsatisfiable") {
    return send(req, res, 416, { ...headers, "Content-Range": `bytes */${size}`, "Content-Type": "application/json" }, registryError("BLOB_UNKNOWN", `range ${req.headers.range} is outside blob ${digest} (${size} bytes)`, { digest }).body());
  }
  const status = range ? 206 : 200;
  if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
  headers["Content-Length"] = range ? range.end - range.start + 1 : size;
  if (req.method === "HEAD" || headers["Content-Length"] === 0) return send(req, res, status, headers);
  let stream;
  try {
    stream = ctx.storage.content.createReadStream(digest, range ? { ...range, highWaterMark: 1 << 20 } as never : { highWaterMark: 1 << 20 } as never);
  } catch (e) {
    if (e instanceof BerthError && e.kind === "NotFound") throw registryError("BLOB_UNKNOWN", `blob ${digest} unknown to repository ${name}`, { digest });
    throw e;
  }
  res.writeHead(status, headers);
  await pipeline(stream, res);
}

// ---- uploads --------------------------------------------------------------------------------

function uploadHeaders(name: string, s: Session): Record<string, string> {
  return { Location: `/v2/${name}/blobs/uploads/${s.id}`, Range: `0-${Math.max(s.size - 1, 0)}`, "Docker-Upload-UUID": s.id };
}

function blobCreated(req: IncomingMessage, res: ServerResponse, name: string, digest: string): void {
  send(req, res, 201, { Location: `/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest });
}

export async function startUpload(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, q: Query): Promise<void> {
  if (req.method !== "POST") throw methodNotAllowed(req);
  checkName(name);
  const mount = q.get("mount");
  if (mount !== null) {
    const { digest } = checkDigest(mount, "mount");
    const from = q.get("from");
    if (from !== null) checkName(from);
    // with from: the blob must be in that repository; without: anywhere (automatic content discovery)
    const found = from !== null ? ctx.storage.blobSize(from, digest) !== undefined : ctx.storage.blobInStore(digest);
    if (found) {
      ctx.storage.linkBlob(name, digest);
      return blobCreated(req, res, name, digest);
    }
    // not mountable: an ordinary session, as the spec says (202)
  }
  const digestParam = q.get("digest");
  if (digestParam !== null && mount === null) {
    const { digest } = checkDigest(digestParam);
    const declared = req.headers["content-length"] !== undefined ? Number(req.headers["content-length"]) : undefined;
    try {
      await ctx.storage.content.writeStream(req, { digest, size: declared });
    } catch (e) {
      if (e instanceof BerthError && e.kind === "InvalidArgument") {
        throw /size mismatch/.test(e.message) ? registryError("SIZE_INVALID", e.message, { digest }) : registryError("DIGEST_INVALID", `provided digest ${digest} did not match uploaded content: ${e.message}`, { digest });
      }
      throw e;
    }
    ctx.storage.linkBlob(name, digest);
    return blobCreated(req, res, name, digest);
  }
  const s = ctx.uploads.create(name);
  req.resume(); // a session starts empty; a body here is not part of the blob
  send(req, res, 202, uploadHeaders(name, s));
}

/** Content-Range of a chunk: "start-end" (inclusive), optionally as "bytes start-end/total". */
function chunkRange(req: IncomingMessage, name: string, s: Session): number | undefined {
  const header = req.headers["content-range"];
  const declared = req.headers["content-length"] !== undefined ? Number(req.headers["content-length"]) : undefined;
  if (header === undefined) return declared;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw registryError("BLOB_UPLOAD_INVALID", `Content-Range ${JSON.stringify(header.slice(0, 60))}: expected <start>-<end>`, undefined, 416).with(uploadHeaders(name, s));
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (start !== s.size || end < start) {
    throw registryError("BLOB_UPLOAD_INVALID", `chunk ${start}-${end} out of order: the upload has ${s.size} bytes, so the next chunk starts at ${s.size}`, { size: s.size }, 416).with(uploadHeaders(name, s));
  }
  const length = end - start + 1;
  if (declared !== undefined && declared !== length) throw registryError("SIZE_INVALID", `Content-Range ${header} is ${length} bytes but Content-Length is ${declared}`);
  return length;
}

export async function upload(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, id: string, q: Query): Promise<void> {
  checkName(name);
  const s = ctx.uploads.get(name, id);
  switch (req.method) {
    case "GET":
      return send(req, res, 204, uploadHeaders(name, s));
    case "DELETE":
      if (s.busy) throw registryError("BLOB_UPLOAD_INVALID", `blob upload ${s.id}: a request is writing to it`, undefined, 416);
      ctx.uploads.remove(s);
      return send(req, res, 204);
    case "PATCH":
      ctx.uploads.take(s);
      try {
        await ctx.uploads.append(s, req, chunkRange(req, name, s));
      } finally {
        ctx.uploads.release(s);
      }
      return send(req, res, 202, uploadHeaders(name, s));
    case "PUT": {
      const digestParam = q.get("digest");
      if (digestParam === null) throw registryError("DIGEST_INVALID", "closing PUT of an upload needs ?digest=<digest of the whole blob>");
      const { digest, algorithm } = checkDigest(digestParam);
      ctx.uploads.take(s);
      try {
        await ctx.uploads.append(s, req, chunkRange(req, name, s));
      } catch (e) {
        ctx.uploads.release(s);
        throw e;
      }
      await ctx.uploads.finish(s, digest, algorithm);
      return blobCreated(req, res, name, digest);
    }
    default:
      throw methodNotAllowed(req);
  }
}

// ---- referrers ------------------------------------------------------------------------------

export function referrers(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, name: string, rawDigest: string, q: Query): void {
  if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed(req);
  checkName(name);
  const { digest } = checkDigest(rawDigest);
  const artifactType = q.get("artifactType") ?? undefined;
  const manifests = ctx.storage.referrers(name, digest, artifactType);
  const headers: Record<string, string> = { "Content-Type": MediaType.OCI_INDEX };
  if (artifactType !== undefined) headers["OCI-Filters-Applied"] = "artifactType";
  send(req, res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests }));
}

export { RegistryError };
