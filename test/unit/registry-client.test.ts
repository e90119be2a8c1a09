// The registry client's pure parts: challenges and scopes, registry configuration and certs.d,
// the auth files (auth.json written, Docker's config.json read), backoff, retries and token
// caching against an in-process HTTP server, and how the CLI renders progress.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { BerthError } from "../../src/errors.js";
import { parseReference } from "../../src/image/index.js";
import {
  RegistryClient,
  backoff,
  defaultAuthFile,
  endpointsFor,
  findCredentials,
  isLoopback,
  loadRegistryConfig,
  mergeScopes,
  parseChallenge,
  registryDomain,
  removeCredentials,
  fetchManifest,
  storeCredentials,
} from "../../src/registry/client/index.js";
import { PullProgress, PushProgress } from "../../src/cli/berth/progress.js";

describe("registry client: challenges and scopes", () => {
  test("parseChallenge reads Bearer and Basic challenges, quoted or not", () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), {
      scheme: "bearer",
      params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/busybox:pull" },
    });
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: "basic", params: { realm: "Registry Realm" } });
    assert.deepEqual(parseChallenge("Bearer realm=http://127.0.0.1:1/t, service=x"), { scheme: "bearer", params: { realm: "http://127.0.0.1:1/t", service: "x" } });
    assert.equal(parseChallenge(""), undefined);
  });

  test("mergeScopes joins actions per repository", () => {
    assert.deepEqual(mergeScopes(["repository:a:pull", "repository:a:push", "repository:b:pull"]), ["repository:a:pull,push", "repository:b:pull"]);
    assert.deepEqual(mergeScopes(["repository:a:pull,push repository:c:pull", "repository:a:pull"]), ["repository:a:pull,push", "repository:c:pull"]);
  });

  test("backoff doubles from the base, with jitter, capped at 4 s", () => {
    for (let i = 0; i < 50; i++) {
      const b1 = backoff(1, 250);
      assert.ok(b1 >= 200 && b1 <= 300, String(b1));
      const b3 = backoff(3, 250);
      assert.ok(b3 >= 800 && b3 <= 1200, String(b3));
      assert.ok(backoff(20, 250) <= 4800);
    }
  });
});

describe("registry client: configuration", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-regconf-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("loopback registries are plain http; others https; docker.io is registry-1.docker.io", () => {
    for (const h of ["localhost", "localhost:5000", "127.0.0.1:5000", "127.3.4.5", "[::1]:5000"]) assert.ok(isLoopback(h), h);
    for (const h of ["10.0.0.1:5000", "example.com", "localhost.example.com:5000", "128.0.0.1"]) assert.ok(!isLoopback(h), h);
    const config = loadRegistryConfig(undefined);
    assert.deepEqual(endpointsFor("127.0.0.1:5000", config, "pull").map((e) => `${e.scheme}://${e.host}`), ["http://127.0.0.1:5000"]);
    assert.deepEqual(endpointsFor("docker.io", config, "pull").map((e) => `${e.scheme}://${e.host}`), ["https://registry-1.docker.io"]);
  });

  test("the registries file: insecure registries, mirrors (pulls only, first), a missing file is empty", () => {
    const file = path.join(dir, "registries.json");
    writeFileSync(file, JSON.stringify({ "insecure-registries": ["reg.lan:5000"], mirrors: { "docker.io": ["http://mirror.lan:5000/", "127.0.0.1:6000"] } }));
    const config = loadRegistryConfig(file, []);
    assert.deepEqual(endpointsFor("reg.lan:5000", config, "push").map((e) => `${e.scheme}://${e.host}`), ["http://reg.lan:5000"]);
    assert.deepEqual(
      endpointsFor("docker.io", config, "pull").map((e) => `${e.scheme}://${e.host} ${e.mirror}`),
      ["https://mirror.lan:5000 true", "http://127.0.0.1:6000 true", "https://registry-1.docker.io false"],
    );
    assert.deepEqual(endpointsFor("docker.io", config, "push").map((e) => e.host), ["registry-1.docker.io"]);
    assert.deepEqual(loadRegistryConfig(path.join(dir, "nope.json")).insecure, []);
  });

  test("a bad registries file is one clear line", () => {
    const file = path.join(dir, "bad.json");
    writeFileSync(file, "{ nope");
    assert.throws(() => loadRegistryConfig(file), (e: BerthError) => e.kind === "InvalidArgument" && /^registries config .*bad\.json: not valid JSON/.test(e.message));
    writeFileSync(file, JSON.stringify({ "insecure-registries": "reg:5000" }));
    assert.throws(() => loadRegistryConfig(file), /insecure-registries: expected an array of host\[:port\] strings/);
  });

  test("certs.d: *.crt are extra CAs for the host; a client cert needs its key", () => {
    const certs = path.join(dir, "certs.d");
    mkdirSync(path.join(certs, "reg.example:5443"), { recursive: true });
    writeFileSync(path.join(certs, "reg.example:5443", "ca.crt"), "PEM");
    const config = { insecure: [], mirrors: {}, certsDirs: [certs] };
    const [e] = endpointsFor("reg.example:5443", config, "pull");
    assert.equal(e!.scheme, "https");
    assert.deepEqual(e!.ca?.map(String), ["PEM"]);
    writeFileSync(path.join(certs, "reg.example:5443", "client.cert"), "C");
    assert.throws(() => endpointsFor("reg.example:5443", config, "pull"), /client\.cert has no matching client\.key/);
  });

  test("registryDomain: hosts, URLs and Docker Hub's names", () => {
    assert.equal(registryDomain(undefined), "docker.io");
    assert.equal(registryDomain("https://index.docker.io/v1/"), "docker.io");
    assert.equal(registryDomain("http://127.0.0.1:5000/"), "127.0.0.1:5000");
    assert.equal(registryDomain("ghcr.io"), "ghcr.io");
  });
});

describe("registry client: auth files", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-auth-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("where auth.json is: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers, /run/containers/<uid>", () => {
    assert.equal(defaultAuthFile({ REGISTRY_AUTH_FILE: "/a.json", XDG_RUNTIME_DIR: "/x" }, 0), "/a.json");
    assert.equal(defaultAuthFile({ XDG_RUNTIME_DIR: "/run/user/1000" }, 1000), "/run/user/1000/containers/auth.json");
    assert.equal(defaultAuthFile({}, 0), "/run/containers/0/auth.json");
  });

  test("store, find and remove credentials in auth.json, keeping what else it holds", () => {
    const file = path.join(dir, "containers", "auth.json");
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify({ auths: { "other:1": { auth: Buffer.from("o:p").toString("base64") } }, credHelpers: {} }));
    storeCredentials(file, "127.0.0.1:5000", { username: "alice", password: "a:b" });
    const doc = JSON.parse(readFileSync(file, "utf8"));
    assert.equal(Buffer.from(doc.auths["127.0.0.1:5000"].auth, "base64").toString(), "alice:a:b");
    assert.ok(doc.auths["other:1"] && doc.credHelpers);
    assert.deepEqual(findCredentials("127.0.0.1:5000", [file]), { username: "alice", password: "a:b" });
    assert.equal(findCredentials("127.0.0.1:5001", [file]), undefined);
    assert.equal(removeCredentials(file, "127.0.0.1:5000"), true);
    assert.equal(removeCredentials(file, "127.0.0.1:5000"), false);
    assert.equal(findCredentials("127.0.0.1:5000", [file]), undefined);
  });

  test("Docker's config.json: Docker Hub under its v1 URL, searched after auth.json", () => {
    const docker = path.join(dir, "config.json");
    writeFileSync(docker, JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: Buffer.from("hub:pw").toString("base64") }, "reg:1": { auth: Buffer.from("d:x").toString("base64") } } }));
    const mine = path.join(dir, "mine.json");
    storeCredentials(mine, "reg:1", { username: "m", password: "y" });
    assert.deepEqual(findCredentials("docker.io", [mine, docker]), { username: "hub", password: "pw" });
    assert.deepEqual(findCredentials("reg:1", [mine, docker]), { username: "m", password: "y" });
    assert.equal(findCredentials("reg:1", [path.join(dir, "absent.json")]), undefined);
    writeFileSync(mine, "not json");
    assert.throws(() => findCredentials("reg:1", [mine]), /^BerthError: auth file .*mine\.json: not valid JSON/);
  });
});

describe("registry client: HTTP with retries and tokens (in-process server)", () => {
  let server: http.Server;
  let port: number;
  const seen: string[] = [];
  let failures = 0;
  let tokenRequests = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? "-"}`);
      if (req.url?.startsWith("/token")) {
        tokenRequests++;
        return res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token: "T1", expires_in: 300 }));
      }
      if (req.url === "/v2/flaky/manifests/1" && failures-- > 0) return res.writeHead(503).end();
      if (req.url === "/v2/down/manifests/1") return res.writeHead(503).end("busy");
      if (req.headers.authorization !== "Bearer T1") {
        return res.writeHead(401, { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="s"` }).end();
      }
      if (req.url === "/v2/missing/manifests/1") return res.writeHead(404, { "Content-Type": "application/json" }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
      res.writeHead(200).end("ok");
    });
    port = await new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as { port: number }).port)));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const client = () => new RegistryClient({ domain: `127.0.0.1:${port}`, host: `127.0.0.1:${port}`, scheme: "http", mirror: false }, { retries: 3, backoffMs: 5 });

  test("a transient 503 is retried; the Bearer token is fetched once per scope and reused", async () => {
    failures = 2;
    tokenRequests = 0;
    const c = client();
    try {
      const r1 = await c.fetch({ path: "/v2/flaky/manifests/1", scope: ["repository:flaky:pull"], what: "m" });
      assert.equal(r1.data.toString(), "ok");
      const r2 = await c.fetch({ path: "/v2/flaky/blobs/x", scope: ["repository:flaky:pull"], what: "b" });
      assert.equal(r2.data.toString(), "ok");
      assert.equal(tokenRequests, 1);
      assert.ok(seen.some((s) => s.startsWith("GET /token?service=s&scope=repository%3Aflaky%3Apull ")), seen.join("\n"));
    } finally {
      c.close();
    }
  });

  test("errors: the registry's error document as one line; a 503 that stays is Unavailable after the tries", async () => {
    const c = client();
    try {
      await assert.rejects(c.fetch({ path: "/v2/missing/manifests/1", scope: ["repository:missing:pull"], what: "tag 1" }), (e: BerthError) => e.kind === "NotFound" && e.message === "tag 1: manifest unknown");
      const before = seen.length;
      await assert.rejects(c.fetch({ path: "/v2/down/manifests/1", what: "tag 1" }), (e: BerthError) => e.kind === "Unavailable" && /^tag 1: busy \(HTTP 503 from 127\.0\.0\.1:\d+\)$/.test(e.message));
      assert.equal(seen.slice(before).filter((l) => l.startsWith("GET /v2/down/")).length, 4); // the first try and 3 retries
    } finally {
      c.close();
    }
  });
});

describe("registry client: manifests", () => {
  let server: http.Server;
  let port: number;
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/v2/old/manifests/1") return res.writeHead(200, { "Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws" }).end('{"schemaVersion":1,"name":"old","tag":"1","fsLayers":[]}');
      if (req.url === "/v2/pinned/manifests/sha256:" + "0".repeat(64)) return res.writeHead(200, { "Content-Type": "application/vnd.oci.image.manifest.v1+json" }).end("{}");
      res.writeHead(404).end();
    });
    port = await new Promise((r) => server.listen(0, "127.0.0.1", () => r((server.address() as { port: number }).port)));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test("schema1 is refused with a clear message; content not matching a pinned digest is refused", async () => {
    const c = new RegistryClient({ domain: `127.0.0.1:${port}`, host: `127.0.0.1:${port}`, scheme: "http", mirror: false }, { retries: 0 });
    try {
      await assert.rejects(fetchManifest(c, parseReference(`127.0.0.1:${port}/old:1`), "1"), /^BerthError: tag 1: schema1 manifests are not supported: this image was pushed by a client older than Docker 1\.10; re-push with a newer client$/);
      await assert.rejects(fetchManifest(c, parseReference(`127.0.0.1:${port}/pinned@sha256:${"0".repeat(64)}`), `sha256:${"0".repeat(64)}`), /digest mismatch: the registry sent content with digest sha256:44136fa3/);
    } finally {
      c.close();
    }
  });
});

describe("CLI progress rendering", () => {
  const collect = (s: PassThrough) => {
    let out = "";
    s.on("data", (d) => (out += d));
    return () => out;
  };

  test("pull, piped: a plain line per change of state, no byte counts; then Digest and Status", () => {
    const s = new PassThrough();
    const out = collect(s);
    const p = new PullProgress(s, "plain");
    const d = "sha256:" + "ab".repeat(32);
    p.event({ type: "resolved", ref: "127.0.0.1:5000/x:1", digest: "sha256:" + "cd".repeat(32), mediaType: "m", layers: [{ digest: d, size: 10 }] });
    p.event({ type: "layer", digest: d, status: "waiting", total: 10 });
    p.event({ type: "layer", digest: d, status: "downloading", current: 5, total: 10 });
    p.event({ type: "layer", digest: d, status: "downloading", current: 10, total: 10 });
    p.event({ type: "layer", digest: d, status: "downloaded" });
    p.event({ type: "layer", digest: d, status: "done" });
    p.event({ type: "pulled", ref: "127.0.0.1:5000/x:1", id: "sha256:1", digest: "sha256:" + "cd".repeat(32), upToDate: false });
    assert.equal(
      out(),
      [
        "1: Pulling from 127.0.0.1:5000/x",
        "abababababab: Pulling fs layer",
        "abababababab: Download complete",
        "abababababab: Pull complete",
        `Digest: sha256:${"cd".repeat(32)}`,
        "Status: Downloaded newer image for 127.0.0.1:5000/x:1",
        "",
      ].join("\n"),
    );
  });

  test("pull on a terminal: a line per layer, redrawn in place", () => {
    const s = new PassThrough();
    const out = collect(s);
    const p = new PullProgress(s, "tty");
    const a = "sha256:" + "aa".repeat(32);
    const b = "sha256:" + "bb".repeat(32);
    p.event({ type: "layer", digest: a, status: "waiting", total: 2000 });
    p.event({ type: "layer", digest: b, status: "exists" });
    p.event({ type: "layer", digest: a, status: "downloading", current: 1000, total: 2000 });
    assert.equal(out(), "aaaaaaaaaaaa: Pulling fs layer\nbbbbbbbbbbbb: Already exists\n\x1b[2A\r\x1b[2Kaaaaaaaaaaaa: Downloading  1kB/2kB\r\x1b[2B");
  });

  test("push, piped: docker push's lines", () => {
    const s = new PassThrough();
    const out = collect(s);
    const p = new PushProgress(s, "plain");
    const a = "sha256:" + "aa".repeat(32);
    p.event({ type: "preparing", repository: "127.0.0.1:5000/t/x", layers: [{ digest: a, size: 1 }] });
    p.event({ type: "layer", digest: a, status: "waiting" });
    p.event({ type: "layer", digest: a, status: "mounted", from: "t/y" });
    p.event({ type: "pushed", ref: "127.0.0.1:5000/t/x:2", tag: "2", digest: "sha256:" + "ee".repeat(32), size: 527 });
    assert.equal(out(), `The push refers to repository [127.0.0.1:5000/t/x]\naaaaaaaaaaaa: Preparing\naaaaaaaaaaaa: Mounted from t/y\n2: digest: sha256:${"ee".repeat(32)} size: 527\n`);
  });
});
