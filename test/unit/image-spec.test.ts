import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { arch } from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BerthError } from "../../src/errors.js";
import {
  Digester,
  MediaType,
  chainIds,
  digestOf,
  digestingStream,
  hostPlatform,
  parseDigest,
  parseImageConfig,
  parseIndex,
  parseManifest,
  parseManifestOrIndex,
  parsePlatform,
  platformMatches,
} from "../../src/oci/index.js";

type Doc = any;

const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;
const D1 = sha("one");
const D2 = sha("two");
const D3 = sha("three");

function assertInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.equal(err.kind, "InvalidArgument");
    assert.equal(err.message, message);
    return true;
  });
}

function ociManifest(): Doc {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: { mediaType: MediaType.OCI_CONFIG, size: 7023, digest: D1 },
    layers: [
      { mediaType: MediaType.OCI_LAYER_GZIP, size: 32654, digest: D2 },
      { mediaType: MediaType.OCI_LAYER_GZIP, size: 16724, digest: D3 },
      { mediaType: MediaType.OCI_LAYER_GZIP, size: 73109, digest: D1 },
    ],
    annotations: { "com.example.key1": "value1" },
  };
}

// What `docker manifest inspect -v` shows for a schema2 image.
const DOCKER_MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.docker.distribution.manifest.v2+json",
  config: { mediaType: "application/vnd.docker.container.image.v1+json", size: 1457, digest: D1 },
  layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: 2220094, digest: D2 }],
});

const DOCKER_LIST = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
  manifests: [
    { mediaType: MediaType.DOCKER_MANIFEST, size: 528, digest: D1, platform: { architecture: "amd64", os: "linux" } },
    { mediaType: MediaType.DOCKER_MANIFEST, size: 528, digest: D2, platform: { architecture: "arm", os: "linux", variant: "v6" } },
    { mediaType: MediaType.DOCKER_MANIFEST, size: 528, digest: D3, platform: { architecture: "arm64", os: "linux", variant: "v8" } },
  ],
});

test("media types are the registered strings", () => {
  assert.equal(MediaType.OCI_INDEX, "application/vnd.oci.image.index.v1+json");
  assert.equal(MediaType.OCI_LAYER_ZSTD, "application/vnd.oci.image.layer.v1.tar+zstd");
  assert.equal(MediaType.OCI_LAYER_NONDIST_GZIP, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip");
  assert.equal(MediaType.DOCKER_FOREIGN_LAYER_GZIP, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
  assert.equal(MediaType.DOCKER_MANIFEST_V1, "application/vnd.docker.distribution.manifest.v1+json");
});

test("parseManifest accepts OCI and Docker schema2 manifests and keeps unknown fields", () => {
  const doc = ociManifest();
  doc["x-extra"] = { kept: true };
  const m = parseManifest(JSON.stringify(doc), "manifest");
  assert.equal(m.layers.length, 3);
  assert.equal(m.config.size, 7023);
  assert.deepEqual((m as Doc)["x-extra"], { kept: true });
  const d = parseManifest(Buffer.from(DOCKER_MANIFEST), "manifest");
  assert.equal(d.config.mediaType, MediaType.DOCKER_CONFIG);
  // mediaType is optional in a manifest; artifacts with subject and artifactType are fine
  delete doc.mediaType;
  doc.artifactType = "application/vnd.example+type";
  doc.subject = { mediaType: MediaType.OCI_MANIFEST, digest: D3, size: 10 };
  assert.equal(parseManifest(JSON.stringify(doc), "manifest").subject?.digest, D3);
});

test("parseIndex accepts an OCI index and a Docker manifest list", () => {
  const list = parseIndex(DOCKER_LIST, "index");
  assert.deepEqual(list.manifests[1]!.platform, { architecture: "arm", os: "linux", variant: "v6" });
  const oci = parseIndex(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] }), "index");
  assert.deepEqual(oci.manifests, []);
});

test("parseManifestOrIndex decides by the document's mediaType, the hint, then the shape", () => {
  assert.equal(parseManifestOrIndex(DOCKER_LIST, "m").kind, "index");
  assert.equal(parseManifestOrIndex(DOCKER_MANIFEST, "m").kind, "manifest");
  const bare = { schemaVersion: 2, manifests: [] };
  assert.equal(parseManifestOrIndex(JSON.stringify(bare), "m", MediaType.OCI_INDEX).kind, "index");
  assert.equal(parseManifestOrIndex(JSON.stringify(bare), "m").kind, "index");
  const m = ociManifest();
  delete m.mediaType;
  const r = parseManifestOrIndex(JSON.stringify(m), "m", `${MediaType.OCI_MANIFEST}; charset=utf-8`);
  assert.equal(r.kind === "manifest" && r.manifest.layers.length, 3);
  assertInvalid(
    () => parseManifestOrIndex(DOCKER_LIST, "manifest sha256:ab…", MediaType.OCI_MANIFEST),
    `manifest sha256:ab…: mediaType: the document is an index (${MediaType.DOCKER_MANIFEST_LIST}) but was described as ${MediaType.OCI_MANIFEST}`,
  );
  assertInvalid(
    () => parseManifestOrIndex('{"schemaVersion":2}', "m"),
    'm: expected an image manifest (with "config" and "layers") or an image index (with "manifests")',
  );
  assertInvalid(
    () => parseManifestOrIndex('{"schemaVersion":2,"mediaType":"text/plain"}', "m"),
    'm: mediaType: expected an image manifest or index media type, got "text/plain"',
  );
});

test("schema1 manifests are refused with a clear message", () => {
  const schema1 = JSON.stringify({ schemaVersion: 1, name: "library/busybox", tag: "latest", architecture: "amd64", fsLayers: [], signatures: [] });
  const message =
    "manifest busybox: schema1 manifests are not supported: this image was pushed by a client older than Docker 1.10; re-push with a newer client";
  assertInvalid(() => parseManifest(schema1, "manifest busybox"), message);
  assertInvalid(() => parseManifestOrIndex(schema1, "manifest busybox"), message);
  assertInvalid(() => parseManifestOrIndex("{}", "manifest busybox", MediaType.DOCKER_MANIFEST_V1_SIGNED), message);
  assertInvalid(() => parseIndex(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DOCKER_MANIFEST_V1 }), "manifest busybox"), message);
});

test("bad manifests and descriptors name the field and what was expected", () => {
  const what = "manifest sha256:ab…";
  const bad = (edit: (m: Doc) => void, message: string) => {
    const m = ociManifest();
    edit(m);
    assertInvalid(() => parseManifest(JSON.stringify(m), what), `${what}: ${message}`);
  };
  bad((m) => (m.layers[2].digest = "xyz"), 'layers[2].digest: expected algorithm:hex, got "xyz"');
  bad((m) => (m.layers[0].digest = "sha256:ABCD"), 'layers[0].digest: expected sha256:<64 lowercase hex digits>, got "sha256:ABCD"');
  bad((m) => (m.config.digest = D1.toUpperCase().replace("SHA256", "sha256")), `config.digest: expected sha256:<64 lowercase hex digits>, got "${D1.toUpperCase().replace("SHA256", "sha256")}"`);
  bad((m) => (m.layers[1].size = -1), "layers[1].size: expected a non-negative integer, got -1");
  bad((m) => (m.layers[1].size = 1.5), "layers[1].size: expected a non-negative integer, got 1.5");
  bad((m) => (m.layers[1].size = "10"), 'layers[1].size: expected a non-negative integer, got "10"');
  bad((m) => delete m.layers[0].mediaType, "layers[0].mediaType: expected a string, got nothing");
  bad((m) => delete m.config, "config: expected a descriptor, got nothing");
  bad((m) => (m.layers = {}), "layers: expected an array of descriptors, got an object");
  bad((m) => (m.schemaVersion = 3), "schemaVersion: expected 2, got 3");
  bad((m) => (m.mediaType = MediaType.OCI_INDEX), `mediaType: expected ${MediaType.OCI_MANIFEST} or ${MediaType.DOCKER_MANIFEST}, got "${MediaType.OCI_INDEX}"`);
  bad((m) => (m.annotations = { a: 1 }), 'annotations["a"]: expected a string, got 1');
  bad((m) => (m.layers[0].urls = "http://x"), 'layers[0].urls: expected an array of strings, got "http://x"');
  assertInvalid(() => parseIndex('{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"' + D1 + '","size":1,"platform":{"os":"linux"}}]}', "index"), "index: manifests[0].platform.architecture: expected a string, got nothing");
  assertInvalid(() => parseManifest("{not json", "m"), `m: not valid JSON: ${(() => { try { JSON.parse("{not json"); } catch (e) { return (e as Error).message; } })()}`);
  assertInvalid(() => parseManifest("[]", "m"), "m: expected a JSON object, got an array");
  // grammatical digests of unregistered algorithms pass, as descriptor.md asks
  const m = ociManifest();
  m.layers[0].digest = "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8";
  assert.equal(parseManifest(JSON.stringify(m), what).layers[0]!.digest, m.layers[0].digest);
});

test("parseImageConfig accepts a Docker config with nulls and checks rootfs", () => {
  const docker = {
    architecture: "amd64",
    config: { Env: ["PATH=/bin"], Cmd: ["sh"], Entrypoint: null, Volumes: null, OnBuild: null, Labels: null, Image: "sha256:x" },
    container_config: { Cmd: ["/bin/sh", "-c", "#(nop) CMD [\"sh\"]"] },
    created: "2023-05-19T20:19:20.844645224Z",
    docker_version: "20.10.23",
    history: [{ created: "2023-05-19T20:19:20Z", created_by: "/bin/sh -c #(nop) ADD file:… in / " }, { created_by: "CMD", empty_layer: true }],
    os: "linux",
    rootfs: { type: "layers", diff_ids: [D1] },
  };
  const c = parseImageConfig(JSON.stringify(docker), "config");
  assert.deepEqual(c.config, { Env: ["PATH=/bin"], Cmd: ["sh"], Image: "sha256:x" });
  assert.equal((c as Doc).docker_version, "20.10.23");
  assert.equal(c.history?.[1]?.empty_layer, true);
  const bad = (edit: (c: Doc) => void, message: string) => {
    const doc = structuredClone(docker) as Doc;
    edit(doc);
    assertInvalid(() => parseImageConfig(JSON.stringify(doc), "image config sha256:cd…"), `image config sha256:cd…: ${message}`);
  };
  bad((d) => delete d.rootfs, "rootfs: expected an object, got nothing");
  bad((d) => (d.rootfs.type = "tar"), 'rootfs.type: expected "layers", got "tar"');
  bad((d) => (d.rootfs.diff_ids = [D1, "nope"]), 'rootfs.diff_ids[1]: expected algorithm:hex, got "nope"');
  bad((d) => delete d.os, "os: expected a string, got nothing");
  bad((d) => (d.config.Env = "A=1"), 'config.Env: expected an array of strings, got "A=1"');
  bad((d) => (d.config.Healthcheck = { Test: ["CMD", "true"], Interval: -5 }), "config.Healthcheck.Interval: expected a non-negative integer, got -5");
  bad((d) => (d.history[0].empty_layer = "yes"), 'history[0].empty_layer: expected a boolean, got "yes"');
});

test("parseDigest accepts sha256 and sha512 and explains the rest", () => {
  assert.deepEqual(parseDigest(D1, "d"), { algorithm: "sha256", hex: D1.slice(7) });
  const s512 = digestOf("x", "sha512");
  assert.equal(parseDigest(s512, "d").hex.length, 128);
  assertInvalid(() => parseDigest("xyz", "blob"), 'blob: expected algorithm:hex, got "xyz"');
  assertInvalid(() => parseDigest("SHA256:abc", "blob"), 'blob: expected algorithm:hex, got "SHA256:abc"');
  assertInvalid(() => parseDigest("sha256:abc", "blob"), 'blob: expected sha256:<64 lowercase hex digits>, got "sha256:abc"');
  assertInvalid(() => parseDigest(`sha512:${D1.slice(7)}`, "blob"), `blob: expected sha512:<128 lowercase hex digits>, got "sha512:${D1.slice(7)}"`);
  assertInvalid(() => parseDigest("sha384:abcd", "blob"), 'blob: unsupported digest algorithm "sha384" in "sha384:abcd", expected sha256 or sha512');
});

test("digestOf, Digester and digestingStream agree with node:crypto", async () => {
  const data = Buffer.from("hello, layers");
  const want = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  assert.equal(digestOf(data), want);
  assert.equal(digestOf("hello, layers"), want);
  assert.equal(digestOf(data, "sha512"), `sha512:${createHash("sha512").update(data).digest("hex")}`);
  const d = new Digester();
  d.update(data.subarray(0, 5)).update(data.subarray(5));
  assert.equal(d.size, data.length);
  assert.equal(d.digest(), want);
  assert.equal(d.digest(), want);

  const stream = digestingStream();
  assert.throws(() => stream.digest(), /before the stream ended/);
  const out: Buffer[] = [];
  await pipeline(Readable.from([data.subarray(0, 3), data.subarray(3)]), stream, async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) out.push(c);
  });
  assert.deepEqual(Buffer.concat(out), data);
  assert.equal(stream.size, data.length);
  assert.equal(stream.digest(), want);
});

test("chainIds follow config.md's definition", () => {
  const ids = [sha("layer0"), sha("layer1"), sha("layer2")];
  const c1 = `sha256:${createHash("sha256").update(`${ids[0]} ${ids[1]}`).digest("hex")}`;
  const c2 = `sha256:${createHash("sha256").update(`${c1} ${ids[2]}`).digest("hex")}`;
  assert.deepEqual(chainIds(ids), [ids[0], c1, c2]);
  assert.deepEqual(chainIds([]), []);
});

test("platforms: parse, match, and the host in OCI names", () => {
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/arm/v7"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("linux/aarch64"), { os: "linux", architecture: "arm64" });
  for (const s of ["linux", "linux/", "linux/arm/v7/x", ""]) {
    assertInvalid(() => parsePlatform(s), `invalid platform ${JSON.stringify(s)}: expected os/arch[/variant], like linux/amd64 or linux/arm/v7`);
  }

  const amd64 = { os: "linux", architecture: "amd64" };
  assert.ok(platformMatches(amd64, { os: "linux", architecture: "amd64" }));
  assert.ok(!platformMatches(amd64, { os: "linux", architecture: "arm64" }));
  assert.ok(!platformMatches(amd64, { os: "windows", architecture: "amd64" }));
  assert.ok(platformMatches(amd64, undefined), "a descriptor without a platform matches anything");
  assert.ok(platformMatches({ os: "linux", architecture: "arm64", variant: "v8" }, { os: "linux", architecture: "arm64" }));
  assert.ok(platformMatches({ os: "linux", architecture: "arm64" }, { os: "linux", architecture: "arm64", variant: "v8" }));
  assert.ok(platformMatches({ os: "linux", architecture: "arm", variant: "v7" }, { os: "linux", architecture: "arm", variant: "v6" }));
  assert.ok(!platformMatches({ os: "linux", architecture: "arm", variant: "v6" }, { os: "linux", architecture: "arm", variant: "v7" }));
  assert.ok(!platformMatches(amd64, { os: "linux", architecture: "amd64", variant: "v3" }), "a v1 CPU cannot run amd64/v3");
  assert.ok(platformMatches({ os: "linux", architecture: "x86_64" }, amd64));
  // picking from a Docker list the way the image store does
  const list = parseIndex(DOCKER_LIST, "index");
  const pick = (p: string) => list.manifests.find((m) => platformMatches(parsePlatform(p), m.platform))?.digest;
  assert.equal(pick("linux/arm/v7"), D2);
  assert.equal(pick("linux/arm64"), D3);
  assert.equal(pick("linux/s390x"), undefined);

  const host = hostPlatform();
  assert.equal(host.os, "linux");
  const expected: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" };
  assert.equal(host.architecture, expected[arch()] ?? arch());
  if (arch() === "arm64") assert.equal(host.variant, "v8");
});
