// The OCI distribution spec's four workflows (pull, push, content discovery, content
// management) and its error codes, walked over raw HTTP against `berth registry serve`.
// The official conformance suite is Go and cannot be fetched offline; this walks the same
// spec.md requirements (v1.1: referrers, OCI-Subject, tag pagination, chunk order) by hand,
// then feeds the server hostile input: path tricks, bad digests, oversized and broken
// manifests, lying uploads, clients that hang up, and 50 pushes of one blob at once.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { serve, type Served } from "../helpers/registry-serve.js";

const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const sha512 = (b: Buffer | string) => `sha512:${createHash("sha512").update(b).digest("hex")}`;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const EMPTY = "{}";

interface Res {
  status: number;
  headers: Headers;
  body: Buffer;
  json(): any;
}

/** Polls `check` until it holds, at most `tries` times 50 ms apart (no timing is asserted). */
async function until(check: () => boolean | Promise<boolean>, what: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

describe("registry serve: the distribution spec over raw HTTP", () => {
  let dir: string;
  let storage: string;
  let reg: Served;
  const call = async (method: string, p: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Res> => {
    const r = await fetch(new URL(p, reg.url), { method, headers: opts.headers, body: opts.body as unknown as string | undefined });
    const body = Buffer.from(await r.arrayBuffer());
    return { status: r.status, headers: r.headers, body, json: () => JSON.parse(body.toString()) };
  };
  /** a request whose path is sent exactly as written (fetch would resolve "..") */
  const raw = (method: string, p: string, body?: Buffer): Promise<Res> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: reg.port, method, path: p, headers: body ? { "Content-Length": body.length } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: new Headers(res.headers as Record<string, string>), body: b, json: () => JSON.parse(b.toString()) });
        });
      });
      req.on("error", reject);
      req.end(body);
    });
  /** the spec's error body: {"errors":[{"code","message",…}]} with this code */
  const isError = (r: Res, status: number, code: string) => {
    assert.equal(r.status, status, `${r.status} ${r.body.toString().slice(0, 300)}`);
    const e = r.json();
    assert.ok(Array.isArray(e.errors) && e.errors.length === 1, r.body.toString());
    assert.equal(e.errors[0].code, code);
    assert.equal(typeof e.errors[0].message, "string");
  };
  const pushBlob = async (name: string, data: Buffer | string, digest = sha256(data)) => {
    const r = await call("POST", `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: data, headers: { "Content-Type": "application/octet-stream" } });
    assert.equal(r.status, 201, r.body.toString());
    return digest;
  };
  const manifestFor = (config: string, layers: Buffer[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: Buffer.byteLength(config) },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(l), size: l.length })),
      ...extra,
    });
  const pushImage = async (name: string, tag: string, layers = [randomBytes(1000)]) => {
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l)) } });
    await pushBlob(name, config);
    for (const l of layers) await pushBlob(name, l);
    const m = manifestFor(config, layers);
    const r = await call("PUT", `/v2/${name}/manifests/${tag}`, { body: m, headers: { "Content-Type": OCI_MANIFEST } });
    assert.equal(r.status, 201, r.body.toString());
    return { manifest: m, digest: sha256(m), config, layers };
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-registry-conf-"));
    storage = path.join(dir, "storage");
    reg = await serve(["--storage", storage, "--max-uploads", "200"]);
  });
  after(async () => {
    if (reg) assert.equal(await reg.stop(), 0, reg.stderr());
    rmSync(dir, { recursive: true, force: true });
  });

  test("base: GET and HEAD /v2/ answer 200 with the API version header", async () => {
    for (const m of ["GET", "HEAD"]) {
      const r = await call(m, "/v2/");
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("docker-distribution-api-version"), "registry/2.0");
    }
  });

  test("push: POST then PUT, single POST, chunked PATCHes in order, streamed PATCH, status and cancel", async () => {
    const name = "conf/push";
    // POST then PUT (monolithic)
    const data = randomBytes(3000);
    let r = await call("POST", `/v2/${name}/blobs/uploads/`);
    assert.equal(r.status, 202);
    const loc = r.headers.get("location")!;
    assert.match(loc, /^\/v2\/conf\/push\/blobs\/uploads\/[0-9a-f-]{36}$/);
    r = await call("PUT", `${loc}?digest=${sha256(data)}`, { body: data, headers: { "Content-Type": "application/octet-stream" } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("location"), `/v2/${name}/blobs/${sha256(data)}`);
    assert.equal(r.headers.get("docker-content-digest"), sha256(data));
    r = await call("GET", `/v2/${name}/blobs/${sha256(data)}`);
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(data));

    // single POST with ?digest=
    const one = Buffer.from("single post blob");
    r = await call("POST", `/v2/${name}/blobs/uploads/?digest=${sha256(one)}`, { body: one });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("location"), `/v2/${name}/blobs/${sha256(one)}`);

    // chunked: POST (Content-Length 0), PATCH 0-9, status, out-of-order 416, PATCH 10-19, PUT with the last chunk
    const whole = randomBytes(25);
    r = await call("POST", `/v2/${name}/blobs/uploads/`, { headers: { "Content-Length": "0" } });
    let at = r.headers.get("location")!;
    r = await call("PATCH", at, { body: whole.subarray(0, 10), headers: { "Content-Range": "0-9", "Content-Type": "application/octet-stream" } });
    assert.equal(r.status, 202);
    assert.equal(r.headers.get("range"), "0-9");
    at = r.headers.get("location")!;
    r = await call("GET", at);
    assert.equal(r.status, 204);
    assert.equal(r.headers.get("range"), "0-9");
    assert.equal(r.headers.get("location"), at);
    r = await call("PATCH", at, { body: whole.subarray(15, 20), headers: { "Content-Range": "15-19" } });
    isError(r, 416, "BLOB_UPLOAD_INVALID");
    assert.equal(r.headers.get("range"), "0-9", "a refused chunk leaves the upload as it was");
    r = await call("PATCH", at, { body: whole.subarray(0, 5), headers: { "Content-Range": "0-4" } });
    isError(r, 416, "BLOB_UPLOAD_INVALID");
    r = await call("PATCH", at, { body: whole.subarray(10, 20), headers: { "Content-Range": "10-19" } });
    assert.equal(r.status, 202);
    assert.equal(r.headers.get("range"), "0-19");
    r = await call("PUT", `${at}?digest=${sha256(whole)}`, { body: whole.subarray(20), headers: { "Content-Range": "20-24" } });
    assert.equal(r.status, 201, r.body.toString());
    r = await call("GET", `/v2/${name}/blobs/${sha256(whole)}`);
    assert.ok(r.body.equals(whole));

    // streamed PATCH without Content-Range (what docker and skopeo send), closing PUT without a body
    const streamed = randomBytes(200_000);
    r = await call("POST", `/v2/${name}/blobs/uploads/`);
    at = r.headers.get("location")!;
    r = await call("PATCH", at, { body: streamed });
    assert.equal(r.status, 202);
    assert.equal(r.headers.get("range"), `0-${streamed.length - 1}`);
    r = await call("PUT", `${r.headers.get("location")}?digest=${sha256(streamed)}`);
    assert.equal(r.status, 201);

    // the empty blob, both ways
    const empty = Buffer.alloc(0);
    await pushBlob(name, empty);
    r = await call("POST", `/v2/${name}/blobs/uploads/`);
    r = await call("PUT", `${r.headers.get("location")}?digest=${sha256(empty)}`);
    assert.equal(r.status, 201);
    r = await call("GET", `/v2/${name}/blobs/${sha256(empty)}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-length"), "0");
    assert.equal(r.body.length, 0);

    // cancel
    r = await call("POST", `/v2/${name}/blobs/uploads/`);
    at = r.headers.get("location")!;
    assert.equal((await call("DELETE", at)).status, 204);
    isError(await call("GET", at), 404, "BLOB_UPLOAD_UNKNOWN");
    isError(await call("PATCH", at, { body: "x" }), 404, "BLOB_UPLOAD_UNKNOWN");
    // an upload belongs to its repository
    r = await call("POST", `/v2/${name}/blobs/uploads/`);
    isError(await call("GET", r.headers.get("location")!.replace("conf/push", "conf/elsewhere")), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  test("push: a PUT whose content does not match its digest is refused and nothing is visible", async () => {
    const name = "conf/lies";
    const data = Buffer.from("the real bytes");
    const claimed = sha256("other bytes");
    let r = await call("POST", `/v2/${name}/blobs/uploads/`);
    const at = r.headers.get("location")!;
    r = await call("PUT", `${at}?digest=${claimed}`, { body: data });
    isError(r, 400, "DIGEST_INVALID");
    assert.equal((await call("HEAD", `/v2/${name}/blobs/${claimed}`)).status, 404);
    isError(await call("GET", `/v2/${name}/blobs/${claimed}`), 404, "BLOB_UNKNOWN");
    assert.equal(existsSync(path.join(storage, "blobs", "sha256", claimed.slice(7))), false);
    assert.equal(existsSync(path.join(storage, "blobs", "sha256", sha256(data).slice(7))), false);
    isError(await call("GET", at), 404, "BLOB_UPLOAD_UNKNOWN");
    // single POST: the same
    r = await call("POST", `/v2/${name}/blobs/uploads/?digest=${claimed}`, { body: data });
    isError(r, 400, "DIGEST_INVALID");
    assert.equal(existsSync(path.join(storage, "blobs", "sha256", claimed.slice(7))), false);
    // PUT without ?digest=
    r = await call("POST", `/v2/${name}/blobs/uploads/`);
    isError(await call("PUT", r.headers.get("location")!, { body: data }), 400, "DIGEST_INVALID");
    // a chunk whose Content-Range and Content-Length disagree
    r = await call("POST", `/v2/${name}/blobs/uploads/`);
    isError(await call("PATCH", r.headers.get("location")!, { body: "abcd", headers: { "Content-Range": "0-9" } }), 400, "SIZE_INVALID");
  });

  test("push: sha512 blobs and manifests", async () => {
    const name = "conf/sha512";
    const data = randomBytes(5000);
    await pushBlob(name, data, sha512(data));
    let r = await call("GET", `/v2/${name}/blobs/${sha512(data)}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("docker-content-digest"), sha512(data));
    assert.ok(r.body.equals(data));
    assert.ok(existsSync(path.join(storage, "blobs", "sha512", sha512(data).slice(7))));
    // chunked, closed with a sha512 digest
    const more = randomBytes(7000);
    r = await call("POST", `/v2/${name}/blobs/uploads/`);
    r = await call("PATCH", r.headers.get("location")!, { body: more });
    r = await call("PUT", `${r.headers.get("location")}?digest=${sha512(more)}`);
    assert.equal(r.status, 201);
    const config = EMPTY;
    await pushBlob(name, config);
    const m = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(config), size: 2 }, layers: [{ mediaType: "application/octet-stream", digest: sha512(data), size: data.length }] });
    r = await call("PUT", `/v2/${name}/manifests/${sha512(m)}`, { body: m, headers: { "Content-Type": OCI_MANIFEST } });
    assert.equal(r.status, 201, r.body.toString());
    assert.equal(r.headers.get("docker-content-digest"), sha512(m));
    r = await call("GET", `/v2/${name}/manifests/${sha512(m)}`);
    assert.equal(r.body.toString(), m);
  });

  test("push: cross-repository mount, automatic content discovery, and a mount that falls back to an upload", async () => {
    const data = randomBytes(4000);
    await pushBlob("conf/src", data);
    let r = await call("POST", `/v2/conf/dst/blobs/uploads/?mount=${sha256(data)}&from=conf/src`);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("location"), `/v2/conf/dst/blobs/${sha256(data)}`);
    assert.equal(r.headers.get("docker-content-digest"), sha256(data));
    assert.equal((await call("HEAD", `/v2/conf/dst/blobs/${sha256(data)}`)).status, 200);
    // from a repository without it: an upload session (202)
    r = await call("POST", `/v2/conf/dst2/blobs/uploads/?mount=${sha256(data)}&from=conf/nothing-here`);
    assert.equal(r.status, 202);
    assert.match(r.headers.get("location")!, /\/v2\/conf\/dst2\/blobs\/uploads\//);
    assert.equal((await call("HEAD", `/v2/conf/dst2/blobs/${sha256(data)}`)).status, 404);
    // without from: the registry finds it itself
    r = await call("POST", `/v2/conf/dst3/blobs/uploads/?mount=${sha256(data)}`);
    assert.equal(r.status, 201);
    assert.equal((await call("GET", `/v2/conf/dst3/blobs/${sha256(data)}`)).body.equals(data), true);
    isError(await call("POST", `/v2/conf/dst3/blobs/uploads/?mount=${sha256(data)}&from=Bad/Name`), 400, "NAME_INVALID");
  });

  test("push and pull manifests: by tag and digest, content negotiation, HEAD, Docker-Content-Digest", async () => {
    const name = "conf/image";
    const img = await pushImage(name, "v1");
    let r = await call("PUT", `/v2/${name}/manifests/${img.digest}`, { body: img.manifest, headers: { "Content-Type": OCI_MANIFEST } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("location"), `/v2/${name}/manifests/${img.digest}`);
    assert.equal(r.headers.get("docker-content-digest"), img.digest);
    for (const ref of ["v1", img.digest]) {
      r = await call("GET", `/v2/${name}/manifests/${ref}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), img.manifest);
      assert.equal(r.headers.get("content-type"), OCI_MANIFEST);
      assert.equal(r.headers.get("docker-content-digest"), img.digest);
      r = await call("HEAD", `/v2/${name}/manifests/${ref}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 0);
      assert.equal(r.headers.get("content-length"), String(Buffer.byteLength(img.manifest)));
      assert.equal(r.headers.get("docker-content-digest"), img.digest);
    }
    // a client that takes only Docker manifests is not handed an OCI one
    isError(await call("GET", `/v2/${name}/manifests/v1`, { headers: { Accept: DOCKER_MANIFEST } }), 404, "MANIFEST_UNKNOWN");
    assert.equal((await call("GET", `/v2/${name}/manifests/v1`, { headers: { Accept: "*/*" } })).status, 200);
    // a Docker schema2 manifest keeps its media type
    const dm = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: sha256(img.config), size: img.config.length }, layers: [] });
    r = await call("PUT", `/v2/${name}/manifests/docker`, { body: dm, headers: { "Content-Type": DOCKER_MANIFEST } });
    assert.equal(r.status, 201, r.body.toString());
    r = await call("GET", `/v2/${name}/manifests/docker`, { headers: { Accept: DOCKER_MANIFEST } });
    assert.equal(r.headers.get("content-type"), DOCKER_MANIFEST);
    // an index of manifests in the repository
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: img.digest, size: Buffer.byteLength(img.manifest), platform: { architecture: "amd64", os: "linux" } }] });
    r = await call("PUT", `/v2/${name}/manifests/multi`, { body: index, headers: { "Content-Type": OCI_INDEX } });
    assert.equal(r.status, 201, r.body.toString());
    assert.equal((await call("GET", `/v2/${name}/manifests/multi`)).headers.get("content-type"), OCI_INDEX);
    // unknowns
    isError(await call("GET", `/v2/${name}/manifests/nope`), 404, "MANIFEST_UNKNOWN");
    isError(await call("GET", `/v2/${name}/manifests/${sha256("nope")}`), 404, "MANIFEST_UNKNOWN");
    isError(await call("GET", `/v2/conf/never-pushed/manifests/latest`), 404, "NAME_UNKNOWN");
  });

  test("push manifests: missing blobs, wrong digests, not JSON, too big, bad references", async () => {
    const name = "conf/badmanifests";
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } });
    await pushBlob(name, config);
    const missingLayer = randomBytes(10);
    let r = await call("PUT", `/v2/${name}/manifests/t`, { body: manifestFor(config, [missingLayer]), headers: { "Content-Type": OCI_MANIFEST } });
    isError(r, 400, "MANIFEST_BLOB_UNKNOWN");
    assert.equal(r.json().errors[0].detail.digest, sha256(missingLayer));
    const good = manifestFor(config, []);
    isError(await call("PUT", `/v2/${name}/manifests/${sha256("other")}`, { body: good, headers: { "Content-Type": OCI_MANIFEST } }), 400, "DIGEST_INVALID");
    isError(await call("PUT", `/v2/${name}/manifests/t`, { body: "{not json", headers: { "Content-Type": OCI_MANIFEST } }), 400, "MANIFEST_INVALID");
    isError(await call("PUT", `/v2/${name}/manifests/t`, { body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST }), headers: { "Content-Type": OCI_MANIFEST } }), 400, "MANIFEST_INVALID");
    isError(await call("PUT", `/v2/${name}/manifests/t`, { body: good, headers: { "Content-Type": OCI_INDEX } }), 400, "MANIFEST_INVALID");
    const huge = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, annotations: { pad: "x".repeat(5 << 20) } });
    isError(await call("PUT", `/v2/${name}/manifests/t`, { body: huge, headers: { "Content-Type": OCI_MANIFEST } }), 413, "SIZE_INVALID");
    isError(await call("PUT", `/v2/${name}/manifests/-dash`, { body: good, headers: { "Content-Type": OCI_MANIFEST } }), 400, "MANIFEST_INVALID");
    isError(await call("PUT", `/v2/${name}/manifests/${"t".repeat(129)}`, { body: good, headers: { "Content-Type": OCI_MANIFEST } }), 400, "MANIFEST_INVALID");
    // a size in the manifest that is not the blob's
    const lie = JSON.parse(good);
    lie.config.size += 1;
    isError(await call("PUT", `/v2/${name}/manifests/t`, { body: JSON.stringify(lie), headers: { "Content-Type": OCI_MANIFEST } }), 400, "MANIFEST_INVALID");
    isError(await call("GET", `/v2/${name}/manifests/t`), 404, "MANIFEST_UNKNOWN");
    assert.equal((await call("PUT", `/v2/${name}/manifests/t`, { body: good, headers: { "Content-Type": OCI_MANIFEST } })).status, 201);
  });

  test("pull blobs: Range requests, HEAD, unknown blobs", async () => {
    const name = "conf/ranges";
    const data = Buffer.from("0123456789abcdef");
    const d = await pushBlob(name, data);
    let r = await call("GET", `/v2/${name}/blobs/${d}`, { headers: { Range: "bytes=2-5" } });
    assert.equal(r.status, 206);
    assert.equal(r.body.toString(), "2345");
    assert.equal(r.headers.get("content-range"), "bytes 2-5/16");
    r = await call("GET", `/v2/${name}/blobs/${d}`, { headers: { Range: "bytes=10-" } });
    assert.equal(r.body.toString(), "abcdef");
    r = await call("GET", `/v2/${name}/blobs/${d}`, { headers: { Range: "bytes=-3" } });
    assert.equal(r.body.toString(), "def");
    r = await call("GET", `/v2/${name}/blobs/${d}`, { headers: { Range: "bytes=16-20" } });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get("content-range"), "bytes */16");
    r = await call("HEAD", `/v2/${name}/blobs/${d}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-length"), "16");
    assert.equal(r.headers.get("docker-content-digest"), d);
    assert.equal(r.headers.get("accept-ranges"), "bytes");
    isError(await call("GET", `/v2/${name}/blobs/${sha256("absent")}`), 404, "BLOB_UNKNOWN");
    // a blob of another repository is not this one's
    isError(await call("GET", `/v2/conf/other-repo/blobs/${d}`), 404, "BLOB_UNKNOWN");
  });

  test("content discovery: tags sorted with n/last pagination and Link, the catalog", async () => {
    const name = "conf/tags";
    const img = await pushImage(name, "zeta");
    for (const t of ["beta", "alpha", "1.0", "Gamma", "delta", "_under"]) {
      const r = await call("PUT", `/v2/${name}/manifests/${t}`, { body: img.manifest, headers: { "Content-Type": OCI_MANIFEST } });
      assert.equal(r.status, 201);
    }
    const all = ["1.0", "Gamma", "_under", "alpha", "beta", "delta", "zeta"];
    let r = await call("GET", `/v2/${name}/tags/list`);
    assert.deepEqual(r.json(), { name, tags: all });
    assert.equal(r.headers.get("link"), null);
    r = await call("GET", `/v2/${name}/tags/list?n=3`);
    assert.deepEqual(r.json().tags, ["1.0", "Gamma", "_under"]);
    assert.equal(r.headers.get("link"), `</v2/${name}/tags/list?n=3&last=_under>; rel="next"`);
    const next = /<([^>]+)>/.exec(r.headers.get("link")!)![1]!;
    r = await call("GET", next);
    assert.deepEqual(r.json().tags, ["alpha", "beta", "delta"]);
    r = await call("GET", /<([^>]+)>/.exec(r.headers.get("link")!)![1]!);
    assert.deepEqual(r.json().tags, ["zeta"]);
    assert.equal(r.headers.get("link"), null);
    r = await call("GET", `/v2/${name}/tags/list?n=0`);
    assert.deepEqual(r.json().tags, []);
    assert.equal(r.headers.get("link"), null);
    r = await call("GET", `/v2/${name}/tags/list?last=beta`);
    assert.deepEqual(r.json().tags, ["delta", "zeta"]);
    r = await call("GET", `/v2/${name}/tags/list?n=2&last=b`);
    assert.deepEqual(r.json().tags, ["beta", "delta"]);
    r = await call("GET", `/v2/${name}/tags/list?n=7`);
    assert.deepEqual(r.json().tags, all);
    assert.equal(r.headers.get("link"), null);
    isError(await call("GET", `/v2/conf/no-such-repo/tags/list`), 404, "NAME_UNKNOWN");
    r = await call("GET", "/v2/_catalog");
    const repos: string[] = r.json().repositories;
    assert.ok(repos.includes(name) && repos.includes("conf/image"));
    assert.deepEqual(repos, [...repos].sort());
    r = await call("GET", "/v2/_catalog?n=1");
    assert.equal(r.json().repositories.length, 1);
    assert.match(r.headers.get("link")!, /^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
  });

  test("content discovery: the referrers API, with the artifactType filter and OCI-Subject", async () => {
    const name = "conf/referrers";
    const img = await pushImage(name, "subject");
    await pushBlob(name, EMPTY);
    const subject = { mediaType: OCI_MANIFEST, digest: img.digest, size: Buffer.byteLength(img.manifest) };
    const sig = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: "application/vnd.example.sig", config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(EMPTY), size: 2 }, layers: [], subject, annotations: { "org.example.by": "test" } });
    const sbomConfig = "{\"sbom\":true}";
    await pushBlob(name, sbomConfig);
    const sbom = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: "application/vnd.example.sbom", digest: sha256(sbomConfig), size: sbomConfig.length }, layers: [], subject });
    for (const m of [sig, sbom]) {
      const r = await call("PUT", `/v2/${name}/manifests/${sha256(m)}`, { body: m, headers: { "Content-Type": OCI_MANIFEST } });
      assert.equal(r.status, 201, r.body.toString());
      assert.equal(r.headers.get("oci-subject"), img.digest);
    }
    let r = await call("GET", `/v2/${name}/referrers/${img.digest}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), OCI_INDEX);
    const index = r.json();
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, OCI_INDEX);
    const byDigest = new Map<string, any>(index.manifests.map((d: any) => [d.digest, d]));
    assert.equal(byDigest.size, 2);
    assert.deepEqual(byDigest.get(sha256(sig)), { mediaType: OCI_MANIFEST, digest: sha256(sig), size: Buffer.byteLength(sig), artifactType: "application/vnd.example.sig", annotations: { "org.example.by": "test" } });
    assert.equal(byDigest.get(sha256(sbom)).artifactType, "application/vnd.example.sbom");
    r = await call("GET", `/v2/${name}/referrers/${img.digest}?artifactType=application/vnd.example.sbom`);
    assert.deepEqual(r.json().manifests.map((d: any) => d.digest), [sha256(sbom)]);
    assert.equal(r.headers.get("oci-filters-applied"), "artifactType");
    // an unknown subject has an empty list, not a 404
    r = await call("GET", `/v2/${name}/referrers/${sha256("nothing refers to this")}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json().manifests, []);
    isError(await call("GET", `/v2/${name}/referrers/sha256:abc`), 400, "DIGEST_INVALID");
    // deleting a referrer takes it out of the list
    assert.equal((await call("DELETE", `/v2/${name}/manifests/${sha256(sig)}`)).status, 202);
    r = await call("GET", `/v2/${name}/referrers/${img.digest}`);
    assert.deepEqual(r.json().manifests.map((d: any) => d.digest), [sha256(sbom)]);
  });

  test("content management: delete a tag, a manifest (with its tags), a blob", async () => {
    const name = "conf/manage";
    const img = await pushImage(name, "keep");
    await call("PUT", `/v2/${name}/manifests/drop`, { body: img.manifest, headers: { "Content-Type": OCI_MANIFEST } });
    assert.equal((await call("DELETE", `/v2/${name}/manifests/drop`)).status, 202);
    isError(await call("GET", `/v2/${name}/manifests/drop`), 404, "MANIFEST_UNKNOWN");
    assert.equal((await call("GET", `/v2/${name}/manifests/keep`)).status, 200);
    isError(await call("DELETE", `/v2/${name}/manifests/drop`), 404, "MANIFEST_UNKNOWN");
    assert.equal((await call("DELETE", `/v2/${name}/manifests/${img.digest}`)).status, 202);
    isError(await call("GET", `/v2/${name}/manifests/${img.digest}`), 404, "MANIFEST_UNKNOWN");
    isError(await call("GET", `/v2/${name}/manifests/keep`), 404, "MANIFEST_UNKNOWN");
    assert.deepEqual((await call("GET", `/v2/${name}/tags/list`)).json().tags, []);
    isError(await call("DELETE", `/v2/${name}/manifests/${img.digest}`), 404, "MANIFEST_UNKNOWN");
    const layer = sha256(img.layers[0]!);
    assert.equal((await call("DELETE", `/v2/${name}/blobs/${layer}`)).status, 202);
    isError(await call("GET", `/v2/${name}/blobs/${layer}`), 404, "BLOB_UNKNOWN");
    isError(await call("DELETE", `/v2/${name}/blobs/${layer}`), 404, "BLOB_UNKNOWN");
  });

  test("hostile names, digests and methods get the spec's errors and never reach the disk", async () => {
    const before = readdirSync(path.join(storage, "repositories")).sort();
    for (const p of ["/v2/../etc/tags/list", "/v2/a/../../etc/tags/list", "/v2/a/%2e%2e/tags/list", "/v2/a/%2E%2E/b/manifests/latest", "/v2/Upper/tags/list", "/v2/a//b/tags/list", "/v2/_x/tags/list", "/v2/a-/tags/list", `/v2/${"a".repeat(256)}/tags/list`, "/v2/a%2F..%2Fb/tags/list"]) {
      isError(await raw("GET", p), 400, "NAME_INVALID");
    }
    isError(await raw("POST", "/v2/../../tmp/blobs/uploads/?digest=" + sha256("x"), Buffer.from("x")), 400, "NAME_INVALID");
    isError(await raw("PUT", "/v2/a/../b/manifests/latest", Buffer.from("{}")), 400, "NAME_INVALID");
    for (const d of ["md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:abc", `sha256:${"A".repeat(64)}`, `sha512:${"a".repeat(64)}`, `sha256:${"a".repeat(65)}`, "sha256:..%2F..%2Fetc%2Fpasswd", "sha256"]) {
      isError(await raw("GET", `/v2/conf/x/blobs/${d}`), 400, "DIGEST_INVALID");
      isError(await raw("POST", `/v2/conf/x/blobs/uploads/?digest=${encodeURIComponent(d)}`, Buffer.from("x")), 400, "DIGEST_INVALID");
    }
    isError(await raw("GET", "/v2/conf/x/manifests/md5:d41d8cd98f00b204e9800998ecf8427e"), 400, "DIGEST_INVALID");
    isError(await raw("GET", "/v2/conf/x/manifests/..%2F..%2Fetc"), 400, "MANIFEST_INVALID");
    isError(await raw("GET", "/v2/conf/x/blobs/uploads/..%2F..%2Fstorage"), 404, "BLOB_UPLOAD_UNKNOWN");
    isError(await raw("PATCH", "/v2/conf/x/blobs/uploads/not-a-uuid", Buffer.from("x")), 404, "BLOB_UPLOAD_UNKNOWN");
    isError(await raw("POST", "/v2/conf/x/manifests/latest"), 405, "UNSUPPORTED");
    isError(await raw("GET", "/v3/"), 404, "UNSUPPORTED");
    isError(await raw("GET", "/v2/conf/image/tags/list?n=-1"), 400, "UNSUPPORTED");
    assert.deepEqual(readdirSync(path.join(storage, "repositories")).sort(), before);
    assert.equal(existsSync(path.join(storage, "..", "etc")), false);
    assert.equal((await call("GET", "/v2/")).status, 200);
  });

  test("a client that hangs up mid-upload leaves the session at its last whole chunk and no partial blob", async () => {
    const name = "conf/hangup";
    const data = randomBytes(1 << 20);
    let r = await call("POST", `/v2/${name}/blobs/uploads/`);
    const at = r.headers.get("location")!;
    const id = at.split("/").pop()!;
    const file = path.join(storage, "uploads", id, "data");
    r = await call("PATCH", at, { body: data.subarray(0, 1000), headers: { "Content-Range": "0-999" } });
    assert.equal(r.status, 202);
    // a chunk of 1 MiB announced, 300 KiB sent, then the connection is cut
    const req = http.request({ host: "127.0.0.1", port: reg.port, method: "PATCH", path: at, headers: { "Content-Length": data.length - 1000, "Content-Range": `1000-${data.length - 1}` } });
    req.on("error", () => undefined);
    req.write(data.subarray(1000, 1000 + 300 * 1024));
    await until(() => statSync(file).size > 1000, "the server to write part of the chunk");
    req.destroy();
    await until(() => statSync(file).size === 1000, "the cut chunk to be taken off again");
    // the session goes on from byte 1000 (retrying while the server finishes with the dead request)
    for (let i = 0; i < 100; i++) {
      r = await call("PATCH", at, { body: data.subarray(1000), headers: { "Content-Range": `1000-${data.length - 1}` } });
      if (r.status !== 416) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(r.status, 202, r.body.toString());
    r = await call("PUT", `${r.headers.get("location")}?digest=${sha256(data)}`);
    assert.equal(r.status, 201);
    assert.ok((await call("GET", `/v2/${name}/blobs/${sha256(data)}`)).body.equals(data));

    // a single-POST upload cut off: nothing in blobs/, no temp file left in ingest/
    const other = randomBytes(1 << 20);
    const post = http.request({ host: "127.0.0.1", port: reg.port, method: "POST", path: `/v2/${name}/blobs/uploads/?digest=${sha256(other)}`, headers: { "Content-Length": other.length } });
    post.on("error", () => undefined);
    post.write(other.subarray(0, 200 * 1024));
    const ingest = path.join(storage, "ingest");
    await until(() => existsSync(ingest) && readdirSync(ingest).length > 0, "the single POST to start writing");
    post.destroy();
    await until(() => readdirSync(ingest).length === 0, "the cut single POST's temp file to go");
    isError(await call("GET", `/v2/${name}/blobs/${sha256(other)}`), 404, "BLOB_UNKNOWN");
    assert.equal(existsSync(path.join(storage, "blobs", "sha256", sha256(other).slice(7))), false);
  });

  test("50 concurrent pushes of one blob: all succeed, readers only ever see the whole blob", async () => {
    const name = "conf/race";
    const data = randomBytes(2 << 20);
    const d = sha256(data);
    const readers: Promise<void>[] = [];
    const read = async () => {
      const r = await call("GET", `/v2/${name}/blobs/${d}`);
      if (r.status === 200) assert.equal(sha256(r.body), d, "a visible blob is whole");
      else isError(r, 404, "BLOB_UNKNOWN");
    };
    const pushes = Array.from({ length: 50 }, async (_, i) => {
      readers.push(read());
      if (i % 2 === 0) {
        const r = await call("POST", `/v2/${name}/blobs/uploads/?digest=${d}`, { body: data });
        assert.equal(r.status, 201, r.body.toString());
        return;
      }
      let r = await call("POST", `/v2/${name}/blobs/uploads/`);
      assert.equal(r.status, 202, r.body.toString());
      r = await call("PATCH", r.headers.get("location")!, { body: data.subarray(0, 1 << 20), headers: { "Content-Range": `0-${(1 << 20) - 1}` } });
      assert.equal(r.status, 202, r.body.toString());
      readers.push(read());
      r = await call("PUT", `${r.headers.get("location")}?digest=${d}`, { body: data.subarray(1 << 20) });
      assert.equal(r.status, 201, r.body.toString());
    });
    await Promise.all(pushes);
    await Promise.all(readers);
    assert.ok((await call("GET", `/v2/${name}/blobs/${d}`)).body.equals(data));
    assert.deepEqual(readdirSync(path.join(storage, "ingest")), []);
    const sessions = readdirSync(path.join(storage, "uploads"));
    // sessions left by the earlier tests' refused requests may remain; none of these 50
    for (const s of sessions) assert.notEqual(statSync(path.join(storage, "uploads", s, "data")).size, 1 << 20);
    assert.equal((await call("GET", "/v2/")).status, 200);
  });
});

describe("registry serve: limits and lifecycle", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-registry-limits-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("too many upload sessions get TOOMANYREQUESTS; abandoned sessions are removed", async () => {
    const reg = await serve(["--storage", path.join(dir, "s"), "--max-uploads", "2", "--upload-ttl", "1s"]);
    try {
      const post = () => fetch(`${reg.url}/v2/lim/x/blobs/uploads/`, { method: "POST" });
      const a = await post();
      assert.equal(a.status, 202);
      assert.equal((await post()).status, 202);
      const third = await post();
      assert.equal(third.status, 429);
      assert.equal((await third.json()).errors[0].code, "TOOMANYREQUESTS");
      // left alone, the sessions are swept and the upload is unknown
      const at = a.headers.get("location")!;
      await until(async () => (await fetch(`${reg.url}${at}`)).status === 404, "an abandoned session to be removed", 400);
      await until(() => readdirSync(path.join(dir, "s", "uploads")).length === 0, "the sessions' files to go", 400);
      assert.equal((await post()).status, 202);
    } finally {
      assert.equal(await reg.stop(), 0);
    }
  });

  test("bad flags are one line and exit 125; a second server on the same storage is refused", async () => {
    const { spawnSync } = await import("node:child_process");
    const { BERTH } = await import("../helpers/registry-serve.js");
    const run = (args: string[]) => spawnSync(BERTH, ["registry", ...args], { encoding: "utf8", timeout: 30_000 });
    for (const [args, pattern] of [
      [["serve", "--addr", "nonsense"], /--addr "nonsense": expected HOST:PORT/],
      [["serve", "--addr", ":0", "--tls-cert", "/x"], /--tls-cert and --tls-key go together/],
      [["serve", "--addr", "127.0.0.1:0", "--htpasswd", path.join(dir, "missing")], /--htpasswd .*missing: no such file/],
      [["serve", "--upload-ttl", "soon"], /--upload-ttl "soon": expected a duration/],
    ] as [string[], RegExp][]) {
      const r = run([...args, "--storage", path.join(dir, "s2")]);
      assert.equal(r.status, 125, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    }
    const reg = await serve(["--storage", path.join(dir, "s3")]);
    try {
      const r = run(["serve", "--addr", "127.0.0.1:0", "--storage", path.join(dir, "s3")]);
      assert.equal(r.status, 125);
      assert.match(r.stderr, new RegExp(`registry storage .*s3 \\(berth registry serve\\): in use by process ${reg.child.pid}`));
      const g = run(["gc", "--storage", path.join(dir, "s3")]);
      assert.equal(g.status, 125);
      assert.match(g.stderr, /in use by process/);
    } finally {
      assert.equal(await reg.stop(), 0);
    }
  });
});
