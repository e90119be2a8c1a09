// `berth registry serve` with real clients: skopeo copies to and from it (anonymous, Basic
// auth, TLS with a test CA made here by openssl), podman pulls and pushes, an image that went
// through it runs in berth; gc refuses while the server runs and removes only what no manifest
// needs; --read-only serves and refuses; SIGTERM lets an upload under way finish.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { rootSkip } from "../helpers/oci.js";
import { BERTH, serve, type Served } from "../helpers/registry-serve.js";

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const missing = ["skopeo", "podman", "openssl", "htpasswd"].filter((c) => !has(c));
const skip = rootSkip || (missing.length > 0 ? `needs ${missing.join(", ")} (scripts/setup installs them)` : false);
const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { timeout?: number } = {}): Result {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: opts.timeout ?? 180_000, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
function ok(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function readBlob(layout: string, digest: string): Buffer {
  return readFileSync(path.join(layout, "blobs", "sha256", digest.slice(7)));
}

async function until(check: () => boolean | Promise<boolean>, what: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

describe("berth registry serve with skopeo, podman and berth", { skip }, () => {
  let dir: string;
  let root: string;
  let anon: Served | undefined;
  const servers: Served[] = [];
  /** the busybox image's layers, uncompressed (skopeo gzips them on the way into a registry) */
  let diffIds: string[];
  const diffIdsOf = (ref: string, flags: string[] = ["--tls-verify=false"]) => JSON.parse(ok("skopeo", ["inspect", "--config", ...flags, `docker://${ref}`])).rootfs.diff_ids;
  const start = async (args: string[]) => {
    const s = await serve(args);
    servers.push(s);
    return s;
  };
  const podman = (args: string[]) => run("podman", ["--root", path.join(dir, "podman"), "--runroot", path.join(dir, "podman-run"), "--storage-driver", "vfs", ...args]);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-registry-"));
    root = path.join(dir, "root");
    ok(BERTH, ["--root", root, "bootstrap", "busybox"]);
    ok(BERTH, ["--root", root, "save", "-o", path.join(dir, "bb.tar"), "busybox"]);
    ok(BERTH, ["--root", root, "save", "--format", "oci-archive", "-o", path.join(dir, "bb-oci.tar"), "busybox"]);
    diffIds = JSON.parse(ok("skopeo", ["inspect", "--config", `docker-archive:${path.join(dir, "bb.tar")}`])).rootfs.diff_ids;
    anon = await start(["--storage", path.join(dir, "anon")]);
  });
  after(async () => {
    for (const s of servers) await s.stop();
    podman(["rmi", "-a", "-f"]);
    spawnSync(BERTH, ["--root", path.join(dir, "root2"), "--runroot", path.join(dir, "run2"), "rm", "-f", "from-registry"]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("skopeo copies to it and back (docker-archive and oci-archive); the image runs in berth", () => {
    const h = anon!.host;
    ok("skopeo", ["copy", "-q", `docker-archive:${path.join(dir, "bb.tar")}`, `docker://${h}/x/y:t`, "--dest-tls-verify=false"]);
    ok("skopeo", ["copy", "-q", `oci-archive:${path.join(dir, "bb-oci.tar")}`, `docker://${h}/x/oci:1`, "--dest-tls-verify=false"]);
    for (const ref of ["x/y:t", "x/oci:1"]) {
      const info = JSON.parse(ok("skopeo", ["inspect", "--tls-verify=false", `docker://${h}/${ref}`]));
      assert.equal(info.Layers.length, 1, ref);
      assert.deepEqual(info.RepoTags, [ref.split(":")[1]]);
      assert.deepEqual(diffIdsOf(`${h}/${ref}`), diffIds, ref);
    }
    // back out, into a fresh berth root, and run it
    const back = path.join(dir, "back.tar");
    ok("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${h}/x/y:t`, `docker-archive:${back}:${h}/x/y:t`]);
    const b2 = ["--root", path.join(dir, "root2"), "--runroot", path.join(dir, "run2")];
    ok(BERTH, [...b2, "load", "-q", "-i", back]);
    assert.equal(ok(BERTH, [...b2, "run", "--rm", "--name", "from-registry", `${h}/x/y:t`, "echo", "came through the registry"]), "came through the registry\n");
    // and into an OCI layout: every blob whole
    const out = path.join(dir, "oci-out");
    ok("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${h}/x/oci:1`, `oci:${out}:1`]);
    const index = JSON.parse(readFileSync(path.join(out, "index.json"), "utf8"));
    const m = JSON.parse(readBlob(out, index.manifests[0].digest).toString());
    for (const d of [m.config, ...m.layers]) assert.equal(sha256(readBlob(out, d.digest)), d.digest);
    // the access log has a line per request
    assert.match(anon!.stdout(), /^127\.0\.0\.1 - - \[[^\]]+\] "PUT \/v2\/x\/y\/manifests\/t HTTP\/1\.1" 201 0 [\d.]+ms$/m);
    assert.match(anon!.stdout(), /"GET \/v2\/x\/y\/blobs\/sha256:[0-9a-f]{64} HTTP\/1\.1" 200 \d+ /);
    assert.deepEqual(JSON.parse(ok("skopeo", ["list-tags", "--tls-verify=false", `docker://${h}/x/y`])).Tags, ["t"]);
  });

  test("podman pulls from it and pushes to it", () => {
    const h = anon!.host;
    let r = podman(["pull", "-q", "--tls-verify=false", `${h}/x/y:t`]);
    assert.equal(r.code, 0, r.stderr);
    r = podman(["push", "-q", "--tls-verify=false", `${h}/x/y:t`, `${h}/pod/pushed:1`]);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(ok("skopeo", ["inspect", "--tls-verify=false", `docker://${h}/pod/pushed:1`]));
    assert.deepEqual(diffIdsOf(`${h}/pod/pushed:1`), diffIds);
    r = podman(["rmi", "-a", "-f"]);
    assert.equal(r.code, 0, r.stderr);
    r = podman(["pull", "-q", "--tls-verify=false", `${h}/pod/pushed@${info.Digest}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(podman(["images", "--format", "{{.Repository}}"]).stdout, new RegExp(`${h}/pod/pushed`));
  });

  test("berth's own client: push to it, pull into an empty store and run; with Basic auth, login first", async () => {
    const ref = `${anon!.host}/berth/bb:1`;
    ok(BERTH, ["--root", root, "tag", "busybox", ref]);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(ok(BERTH, ["--root", root, "push", ref]))?.[1];
    assert.ok(digest, "push reports the manifest's digest");
    assert.equal(JSON.parse(ok("skopeo", ["inspect", "--tls-verify=false", `docker://${ref}`])).Digest, digest);
    const fresh = ["--root", path.join(dir, "root3"), "--runroot", path.join(dir, "run3")];
    ok(BERTH, [...fresh, "pull", ref]);
    assert.equal(ok(BERTH, [...fresh, "run", "--rm", "--network", "none", ref, "echo", "through berth's registry"]), "through berth's registry\n");
    // Basic auth on plain http (loopback): refused without a login, then login, push and pull
    writeFileSync(path.join(dir, "htpasswd-plain"), ok("htpasswd", ["-Bbn", "bob", "pa55"]));
    const locked = await start(["--storage", path.join(dir, "locked"), "--htpasswd", path.join(dir, "htpasswd-plain")]);
    const auth = ["--authfile", path.join(dir, "auth.json")];
    const target = `${locked.host}/team/bb:1`;
    ok(BERTH, ["--root", root, "tag", "busybox", target]);
    const denied = run(BERTH, ["--root", root, "push", ...auth, target]);
    assert.equal(denied.code, 125);
    assert.match(denied.stderr, /unauthorized/i);
    assert.equal(denied.stderr.trim().split("\n").length, 1, denied.stderr);
    const login = spawnSync(BERTH, ["login", ...auth, "-u", "bob", "--password-stdin", locked.host], { input: "pa55\n", encoding: "utf8" });
    assert.equal(login.status, 0, login.stderr);
    ok(BERTH, ["--root", root, "push", ...auth, target]);
    ok(BERTH, [...fresh, "pull", ...auth, target]);
    assert.match(ok(BERTH, [...fresh, "images", "--format", "{{.Repository}}:{{.Tag}}"]), new RegExp(`${locked.host}/team/bb:1`));
    ok(BERTH, [...fresh, "rmi", ref, target]);
  });

  test("Basic auth (htpasswd -B) over TLS with a test CA", async () => {
    const certs = path.join(dir, "certs");
    const trust = path.join(dir, "trust");
    mkdirSync(certs);
    mkdirSync(trust);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    ok("openssl", ["req", "-x509", ...ec, "-keyout", path.join(certs, "ca.key"), "-out", path.join(trust, "ca.crt"), "-days", "2", "-subj", "/CN=berth test CA"]);
    ok("openssl", ["req", ...ec, "-keyout", path.join(certs, "server.key"), "-out", path.join(certs, "server.csr"), "-subj", "/CN=127.0.0.1"]);
    writeFileSync(path.join(certs, "ext"), "subjectAltName=IP:127.0.0.1\n");
    ok("openssl", ["x509", "-req", "-in", path.join(certs, "server.csr"), "-CA", path.join(trust, "ca.crt"), "-CAkey", path.join(certs, "ca.key"), "-CAcreateserial", "-out", path.join(certs, "server.crt"), "-days", "2", "-extfile", path.join(certs, "ext")]);
    writeFileSync(path.join(dir, "htpasswd"), ok("htpasswd", ["-Bbn", "alice", "s3cret"]));
    const sec = await start(["--storage", path.join(dir, "secure"), "--htpasswd", path.join(dir, "htpasswd"), "--tls-cert", path.join(certs, "server.crt"), "--tls-key", path.join(certs, "server.key")]);
    assert.match(sec.url, /^https:/);
    const h = sec.host;
    const src = `docker-archive:${path.join(dir, "bb.tar")}`;
    let r = run("skopeo", ["copy", "-q", src, `docker://${h}/sec/img:1`, "--dest-cert-dir", trust]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /authentication required|unauthorized/i);
    r = run("skopeo", ["copy", "-q", src, `docker://${h}/sec/img:1`, "--dest-cert-dir", trust, "--dest-creds", "alice:wrong"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /authentication required|unauthorized/i);
    r = run("skopeo", ["copy", "-q", src, `docker://${h}/sec/img:1`, "--dest-creds", "alice:s3cret"]);
    assert.notEqual(r.code, 0, "without the CA the certificate is not trusted");
    assert.match(r.stderr, /certificate|x509/i);
    ok("skopeo", ["copy", "-q", src, `docker://${h}/sec/img:1`, "--dest-cert-dir", trust, "--dest-creds", "alice:s3cret"]);
    assert.deepEqual(diffIdsOf(`${h}/sec/img:1`, ["--cert-dir", trust, "--creds", "alice:s3cret"]), diffIds);
    r = podman(["pull", "-q", "--cert-dir", trust, "--creds", "alice:s3cret", `${h}/sec/img:1`]);
    assert.equal(r.code, 0, r.stderr);
    // raw: 401 with the challenge and the spec's body, 200 with the password
    const get = (auth?: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const req = https.get({ host: "127.0.0.1", port: sec.port, path: "/v2/", ca: readCa(), headers: auth ? { Authorization: auth } : {} }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        });
        req.on("error", reject);
      });
    const readCa = () => readFileSync(path.join(trust, "ca.crt"));
    const denied = await get();
    assert.equal(denied.status, 401);
    assert.equal(denied.headers["www-authenticate"], 'Basic realm="berth registry"');
    assert.equal(JSON.parse(denied.body).errors[0].code, "UNAUTHORIZED");
    assert.equal((await get(`Basic ${Buffer.from("alice:nope").toString("base64")}`)).status, 401);
    assert.equal((await get(`Basic ${Buffer.from("alice:s3cret").toString("base64")}`)).status, 200);
    assert.match(sec.stdout(), /^127\.0\.0\.1 - alice \[/m);
  });

  test("bearer tokens (--token-auth): skopeo follows the token flow; a token grants only its scopes", async () => {
    if (!readdirSync(dir).includes("htpasswd")) writeFileSync(path.join(dir, "htpasswd"), ok("htpasswd", ["-Bbn", "alice", "s3cret"]));
    const reg = await start(["--storage", path.join(dir, "tokens"), "--htpasswd", path.join(dir, "htpasswd"), "--token-auth"]);
    const h = reg.host;
    const src = `docker-archive:${path.join(dir, "bb.tar")}`;
    let r = run("skopeo", ["copy", "-q", src, `docker://${h}/tok/a:1`, "--dest-tls-verify=false", "--dest-creds", "alice:wrong"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unable to retrieve auth token|unauthorized/i);
    ok("skopeo", ["copy", "-q", src, `docker://${h}/tok/a:1`, "--dest-tls-verify=false", "--dest-creds", "alice:s3cret"]);
    assert.deepEqual(diffIdsOf(`${h}/tok/a:1`, ["--tls-verify=false", "--creds", "alice:s3cret"]), diffIds);

    let res = await fetch(`${reg.url}/v2/tok/a/tags/list`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), `Bearer realm="${reg.url}/token",service="berth-registry",scope="repository:tok/a:pull"`);
    assert.equal((await res.json()).errors[0].code, "UNAUTHORIZED");
    assert.equal((await fetch(`${reg.url}/token?service=berth-registry&scope=repository:tok/a:pull`)).status, 401);
    const basic = `Basic ${Buffer.from("alice:s3cret").toString("base64")}`;
    res = await fetch(`${reg.url}/token?service=berth-registry&scope=repository:tok/a:pull`, { headers: { Authorization: basic } });
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    const bearer = { Authorization: `Bearer ${token}` };
    res = await fetch(`${reg.url}/v2/tok/a/tags/list`, { headers: bearer });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).tags, ["1"]);
    res = await fetch(`${reg.url}/v2/tok/b/tags/list`, { headers: bearer });
    assert.equal(res.status, 401, "a token for tok/a is not one for tok/b");
    assert.match((await res.json()).errors[0].message, /does not grant pull on tok\/b/);
    res = await fetch(`${reg.url}/v2/tok/a/blobs/uploads/`, { method: "POST", headers: bearer });
    assert.equal(res.status, 401, "a pull token does not push");
    assert.match(res.headers.get("www-authenticate")!, /scope="repository:tok\/a:pull,push"/);
    const [payload, sig] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), access: [{ type: "repository", name: "*", actions: ["*"] }] })).toString("base64url");
    assert.equal((await fetch(`${reg.url}/v2/tok/a/tags/list`, { headers: { Authorization: `Bearer ${forged}.${sig}` } })).status, 401, "a forged token");
    assert.equal(await reg.stop(), 0);
  });

  test("gc refuses while the server runs; after it stops, it removes exactly the unreferenced blobs; --read-only serves what is left", async () => {
    const storage = path.join(dir, "anon");
    // an image of its own, then its manifest deleted: its three blobs are garbage
    const layer = randomBytes(5000);
    const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layer)] } });
    for (const b of [config, layer]) assert.equal((await fetch(`${anon!.url}/v2/x/extra/blobs/uploads/?digest=${sha256(b)}`, { method: "POST", body: b })).status, 201);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length }] });
    assert.equal((await fetch(`${anon!.url}/v2/x/extra/manifests/1`, { method: "PUT", body: manifest, headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } })).status, 201);
    assert.equal((await fetch(`${anon!.url}/v2/x/extra/manifests/${sha256(manifest)}`, { method: "DELETE" })).status, 202);
    const garbage = [sha256(manifest), sha256(config), sha256(layer)].sort();

    let r = run(BERTH, ["registry", "gc", "--storage", storage]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`^berth: registry storage .+: in use by process ${anon!.child.pid}\\n$`));
    assert.equal(await anon!.stop(), 0, anon!.stderr());
    assert.match(anon!.stdout(), /shutting down/);

    const blobs = () => readdirSync(path.join(storage, "blobs", "sha256")).map((h) => `sha256:${h}`).sort();
    const beforeGc = blobs();
    r = run(BERTH, ["registry", "gc", "--dry-run", "--storage", storage]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter((l) => l.startsWith("would remove")).map((l) => l.split(" ")[2]).sort(), garbage);
    assert.deepEqual(blobs(), beforeGc);
    r = run(BERTH, ["registry", "gc", "--storage", storage]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter((l) => l.startsWith("removed")).map((l) => l.split(" ")[1]).sort(), garbage);
    assert.match(r.stdout, /^3 blobs, \d+ bytes freed; \d+ abandoned uploads removed$/m);
    assert.deepEqual(blobs(), beforeGc.filter((d) => !garbage.includes(d)));
    assert.deepEqual(run(BERTH, ["registry", "gc", "--storage", storage]).stdout, "0 blobs, 0 bytes freed; 0 abandoned uploads removed\n");

    const ro = await start(["--storage", storage, "--read-only"]);
    ok("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${ro.host}/x/y:t`, `oci:${path.join(dir, "ro-out")}:t`]);
    ok("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${ro.host}/pod/pushed:1`, `oci:${path.join(dir, "ro-out")}:p`]);
    r = run("skopeo", ["copy", "-q", `docker-archive:${path.join(dir, "bb.tar")}`, `docker://${ro.host}/x/new:1`, "--dest-tls-verify=false"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied|read-only/i);
    const del = await fetch(`${ro.url}/v2/x/y/manifests/t`, { method: "DELETE" });
    assert.equal(del.status, 405);
    assert.equal((await del.json()).errors[0].code, "UNSUPPORTED");
    const post = await fetch(`${ro.url}/v2/x/y/blobs/uploads/`, { method: "POST" });
    assert.equal(post.status, 403);
    assert.equal((await post.json()).errors[0].code, "DENIED");
    assert.equal(await ro.stop(), 0);
  });

  test("SIGTERM: the server stops taking connections but finishes the upload under way", async () => {
    const storage = path.join(dir, "term");
    const reg = await start(["--storage", storage]);
    const data = randomBytes(2 << 20);
    const r0 = await fetch(`${reg.url}/v2/t/up/blobs/uploads/`, { method: "POST" });
    const at = r0.headers.get("location")!;
    const file = path.join(storage, "uploads", at.split("/").pop()!, "data");
    const answer = new Promise<{ status: number; range: string | undefined }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: reg.port, method: "PATCH", path: at, headers: { "Content-Length": data.length } }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode!, range: res.headers.range as string | undefined }));
      });
      req.on("error", reject);
      req.write(data.subarray(0, 1 << 20));
      void until(() => statSync(file).size > 0, "the first half to arrive").then(async () => {
        reg.child.kill("SIGTERM");
        await until(() => /shutting down/.test(reg.stdout()), "the server to begin shutting down");
        req.end(data.subarray(1 << 20));
      }, reject);
    });
    const res = await answer;
    assert.equal(res.status, 202);
    assert.equal(res.range, `0-${data.length - 1}`);
    assert.equal(await reg.stop(), 0, reg.stderr());
    assert.equal(statSync(file).size, data.length, "the session is on disk, whole, for a later server");
    await assert.rejects(fetch(`${reg.url}/v2/`));
  });
});
