// The registry client against real peers: Debian's docker-registry (distribution 2.8) on
// 127.0.0.1 (anonymous, and with htpasswd Basic auth) and skopeo as a second client; a small
// token server with a Bearer-demanding proxy in front of the registry; and a fault proxy that
// corrupts, truncates or slows blob downloads while the registry behind it is killed.
// What a user sees is asserted: exit codes, the one error line, the output lines, what runs,
// and what the store keeps (no blob, snapshot or image left from a failed pull).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import tar from "tar-stream";
import { REPO, rootSkip } from "../helpers/oci.js";
import { htpasswdFile, registryToolsSkip, runAsync, SKOPEO, startRegistry, type Registry, type Run } from "../helpers/registry.js";

const BERTH = path.join(REPO, "bin", "berth");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

function close(server: http.Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/** Forwards a request to the registry on `port`; `shape` may rewrite the blob body it sends back. */
function forward(req: http.IncomingMessage, res: http.ServerResponse, port: number, shape?: (up: http.IncomingMessage, res: http.ServerResponse) => boolean): void {
  const up = http.request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
    if (shape?.(ur, res)) return;
    res.writeHead(ur.statusCode ?? 502, ur.headers);
    ur.pipe(res);
    ur.on("error", () => res.destroy());
    ur.on("aborted", () => res.destroy());
  });
  up.on("error", () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  req.pipe(up);
}

type FaultMode = "pass" | "corrupt" | "truncate" | "slow";

/** A proxy in front of a registry that misbehaves on big blob downloads as told. */
async function faultProxy(upstream: () => number) {
  const state = { mode: "pass" as FaultMode, ranges: [] as string[], blobBytes: 0 };
  const slow = new Set<http.ServerResponse>();
  /** ends the slow downloads under way, as a crashed registry's connections end */
  const cut = () => {
    for (const r of slow) r.destroy();
    slow.clear();
  };
  const server = http.createServer((req, res) => {
    const blob = req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "");
    if (blob && req.headers.range) state.ranges.push(String(req.headers.range));
    forward(req, res, upstream(), (ur, out) => {
      const size = Number(ur.headers["content-length"] ?? 0);
      if (!blob || size < 64 * 1024 || state.mode === "pass" || (ur.statusCode !== 200 && ur.statusCode !== 206)) {
        if (blob) ur.on("data", (c: Buffer) => (state.blobBytes += c.length));
        return false;
      }
      out.writeHead(ur.statusCode!, ur.headers);
      const start = Number(/^bytes=(\d+)-/.exec(String(req.headers.range ?? ""))?.[1] ?? 0);
      const total = start + size;
      let pos = start;
      ur.on("error", () => out.destroy());
      ur.on("aborted", () => out.destroy());
      if (state.mode === "corrupt") {
        ur.on("data", (c: Buffer) => {
          const at = Math.floor(total / 2);
          if (at >= pos && at < pos + c.length) c[at - pos] ^= 0xff;
          pos += c.length;
          out.write(c);
        });
        ur.on("end", () => out.end());
      } else if (state.mode === "truncate") {
        // never more than the first half of the blob, however it is asked for
        const limit = Math.floor(total / 2);
        ur.on("data", (c: Buffer) => {
          const keep = Math.max(0, Math.min(c.length, limit - pos));
          if (keep > 0) out.write(c.subarray(0, keep));
          pos += c.length;
          if (pos >= limit) {
            ur.destroy();
            out.destroy();
          }
        });
      } else {
        // slow: about 1 MB/s, so a test can act in the middle
        slow.add(out);
        out.on("close", () => slow.delete(out));
        void (async () => {
          for await (const c of ur) {
            for (let i = 0; i < (c as Buffer).length; i += 64 * 1024) {
              if (out.destroyed) return;
              const part = (c as Buffer).subarray(i, i + 64 * 1024);
              out.write(part);
              state.blobBytes += part.length;
              await sleep(60);
            }
          }
          out.end();
        })().catch(() => out.destroy());
      }
      return true;
    });
  });
  const port = await listen(server);
  return { state, server, cut, host: `127.0.0.1:${port}` };
}

/** A token server and a proxy that demands its Bearer tokens, in front of a registry. */
async function tokenProxy(upstream: number, user: string, password: string) {
  const issued = new Map<string, string[]>(); // token -> granted scopes
  const requests: { scopes: string[]; user?: string }[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/token") {
      const scopes = url.searchParams.getAll("scope");
      let who: string | undefined;
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
      if (basic) {
        const [u, p] = Buffer.from(basic[1]!, "base64").toString().split(":");
        if (u !== user || p !== password) return res.writeHead(401, { "Content-Type": "application/json" }).end('{"details":"bad credentials"}');
        who = u;
      }
      requests.push({ scopes, user: who });
      // anonymous users may pull; the user may also push
      const granted = scopes.map((s) => (who ? s : s.replace(/:[^:]*$/, (a) => `:${a.slice(1).split(",").filter((x) => x === "pull").join(",")}`)));
      const token = randomBytes(16).toString("hex");
      issued.set(token, granted);
      return res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token, expires_in: 300 }));
    }
    const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname);
    const need = m ? `repository:${m[1]}:${req.method === "GET" || req.method === "HEAD" ? "pull" : "push"}` : undefined;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const grants = token ? issued.get(token) : undefined;
    const allowed =
      grants !== undefined &&
      (!need ||
        grants.some((g) => {
          const [, repo, actions] = /^repository:(.+):([^:]*)$/.exec(g) ?? [];
          return `repository:${repo}` === need.slice(0, need.lastIndexOf(":")) && actions!.split(",").includes(need.slice(need.lastIndexOf(":") + 1));
        }));
    if (!allowed) {
      const scope = need ? `,scope="${need.replace(/:push$/, ":pull,push")}"` : "";
      return res.writeHead(401, { "WWW-Authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="berth-test"${scope}`, "Content-Type": "application/json" }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    delete req.headers.authorization;
    forward(req, res, upstream);
  });
  const port = await listen(server);
  return { server, host: `127.0.0.1:${port}`, requests };
}

describe("registry client: berth pull, push, login against docker-registry and skopeo", { skip: rootSkip || registryToolsSkip }, () => {
  let dir: string;
  let reg: Registry;
  let authReg: Registry;
  const servers: http.Server[] = [];
  let n = 0;
  const home = () => path.join(dir, "home");
  const env = () => ({ HOME: home(), REGISTRY_AUTH_FILE: path.join(dir, "auth.json"), XDG_RUNTIME_DIR: undefined, DOCKER_CONFIG: undefined, BERTH_NO_WARM: "1" });
  /** a fresh, empty store */
  const freshRoot = () => {
    const r = path.join(dir, `root${++n}`);
    return { root: r, runroot: path.join(dir, `run${n}`) };
  };
  const src = () => ({ root: path.join(dir, "src"), runroot: path.join(dir, "srcrun") });
  const berth = (roots: { root: string; runroot: string }, args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> =>
    runAsync(BERTH, ["--root", roots.root, "--runroot", roots.runroot, ...args], { env: { ...env(), ...(opts.env ?? {}) }, input: opts.input });
  const ok = async (roots: { root: string; runroot: string }, args: string[], opts?: { input?: string; env?: Record<string, string | undefined> }) => {
    const r = await berth(roots, args, opts);
    assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const fails = async (roots: { root: string; runroot: string }, args: string[], pattern: RegExp) => {
    const r = await berth(roots, args);
    assert.equal(r.code, 125, `berth ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), pattern);
    return r;
  };
  /** the store holds no image, no blob, no snapshot and no stray temp file */
  const empty = async (roots: { root: string; runroot: string }) => {
    assert.equal(await ok(roots, ["images", "-q"]), "");
    const blobs = path.join(roots.root, "image", "blobs", "sha256");
    assert.deepEqual(existsSync(blobs) ? readdirSync(blobs) : [], [], "no blobs");
    const snaps = path.join(roots.root, "snapshots");
    const chains = existsSync(snaps) ? readdirSync(snaps).filter((d) => /^[0-9a-f]{64}$/.test(d)) : [];
    assert.deepEqual(chains, [], "no snapshots");
    const ingest = path.join(roots.root, "image", "ingest");
    assert.deepEqual(existsSync(ingest) ? readdirSync(ingest).filter((f) => f.startsWith("tmp-")) : [], [], "no temp files");
  };
  const skopeo = (args: string[]) => {
    const r = spawnSync(SKOPEO, args, { encoding: "utf8", timeout: 120_000, env: { ...process.env, REGISTRY_AUTH_FILE: path.join(dir, "none.json") } });
    assert.equal(r.status, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-registry-"));
    mkdirSync(home());
    reg = await startRegistry(path.join(dir, "reg"));
    authReg = await startRegistry(path.join(dir, "authreg"), { htpasswd: htpasswdFile(path.join(dir, "htpasswd"), "alice", "s3cret") });
    await ok(src(), ["bootstrap", "busybox"]);
  });

  after(async () => {
    for (const s of servers) await close(s);
    await reg?.stop();
    await authReg?.stop();
    for (const r of readdirSync(dir).filter((d) => /^(src|root\d+)$/.test(d))) {
      const roots = r === "src" ? src() : { root: path.join(dir, r), runroot: path.join(dir, r.replace("root", "run")) };
      const ids = (await berth(roots, ["ps", "-aq"])).stdout.split("\n").filter(Boolean);
      for (const id of ids) await berth(roots, ["rm", "-f", id]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("push by berth: skopeo reads it, and berth pull on an empty store runs it", async () => {
    const name = `${reg.host}/t/busybox:1`;
    await ok(src(), ["tag", "busybox", name]);
    const out = await ok(src(), ["push", name]);
    const lines = out.trimEnd().split("\n");
    assert.equal(lines[0], `The push refers to repository [${reg.host}/t/busybox]`);
    assert.ok(lines.some((l) => /^[0-9a-f]{12}: Pushed$/.test(l)), out);
    const last = /^1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(lines.at(-1)!);
    assert.ok(last, out);
    const info = JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${name}`]));
    assert.equal(info.Digest, last[1]);
    assert.equal(info.Architecture, "amd64");
    const layout = path.join(dir, "skopeo-copy");
    skopeo(["copy", "--src-tls-verify=false", `docker://${name}`, `oci:${layout}:x`]);
    assert.equal(readdirSync(path.join(layout, "blobs", "sha256")).length, 3); // manifest, config, layer

    // again: the registry has every layer
    const again = await ok(src(), ["push", name]);
    assert.match(again, /^[0-9a-f]{12}: Layer already exists$/m);
    // another repository of the same registry that the image is known under: mounted
    await ok(src(), ["tag", "busybox", `${reg.host}/t/other:1`]);
    assert.match(await ok(src(), ["push", `${reg.host}/t/other:1`]), /^[0-9a-f]{12}: Mounted from t\/busybox$/m);
    // chunked uploads (PATCH) under another name, by DEST
    assert.match(await ok(src(), ["push", "busybox", `docker://${reg.host}/t/chunked:2`], { env: { BERTH_PUSH_CHUNK_SIZE: "100000" } }), /^2: digest: /m);
    assert.equal(JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${reg.host}/t/chunked:2`])).Digest, last[1]);

    // a mirror (registries.json in the root) serves a registry that is never dialled
    const mirrored = freshRoot();
    mkdirSync(mirrored.root, { recursive: true });
    writeFileSync(path.join(mirrored.root, "registries.json"), JSON.stringify({ mirrors: { "registry.invalid:5000": [reg.host] } }));
    assert.match(await ok(mirrored, ["pull", "registry.invalid:5000/t/busybox:1"]), /^registry\.invalid:5000\/t\/busybox:1$/m);
    // every tag of a repository
    assert.equal(await ok(freshRoot(), ["pull", "-a", "-q", `${reg.host}/t/chunked`]), `${reg.host}/t/chunked:2\n`);

    const dst = freshRoot();
    const pulled = await ok(dst, ["pull", name]);
    assert.match(pulled, new RegExp(`^1: Pulling from ${reg.host}/t/busybox$`, "m"));
    assert.match(pulled, /^[0-9a-f]{12}: Pull complete$/m);
    assert.match(pulled, new RegExp(`^Digest: ${last[1]}$`, "m"));
    assert.ok(pulled.endsWith(`Status: Downloaded newer image for ${name}\n${name}\n`), pulled);
    assert.equal(await ok(dst, ["run", "--rm", name, "echo", "pulled and running"]), "pulled and running\n");
    // up to date, nothing downloaded; -q prints only the name
    assert.match(await ok(dst, ["pull", name]), /Already exists[\s\S]*Status: Image is up to date/);
    assert.equal(await ok(dst, ["pull", "-q", name]), `${name}\n`);
    // json events
    const events = (await ok(freshRoot(), ["pull", "--format", "json", name])).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(events[0].type, "resolved");
    assert.equal(events.at(-1).type, "pulled");
    assert.ok(events.some((e) => e.type === "layer" && e.status === "done"));
  });

  test("run --pull: missing pulls an image the store lacks, never refuses, always pulls again", async () => {
    const name = `${reg.host}/t/autopull:1`;
    await ok(src(), ["push", "busybox", name]);
    const dst = freshRoot();
    await fails(dst, ["run", "--rm", "--pull", "never", name, "true"], /^berth: Unable to find image .* locally$/);
    const r = await berth(dst, ["run", "--rm", name, "echo", "auto"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "auto\n");
    assert.match(r.stderr, new RegExp(`^Unable to find image '${name}' locally\n`));
    assert.match(r.stderr, /Status: Downloaded newer image/);
    const again = await berth(dst, ["create", "--pull", "always", name, "true"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Status: Image is up to date/);
    await ok(dst, ["rm", again.stdout.trim()]);
    await fails(dst, ["run", "--pull", "sometimes", name], /--pull "sometimes": expected missing, always or never/);
  });

  test("an image pushed by skopeo (from berth save, docker-archive and oci-archive) is pulled and run", async () => {
    for (const format of ["docker-archive", "oci-archive"]) {
      const archive = path.join(dir, `busybox.${format}.tar`);
      await ok(src(), ["save", "--format", format, "-o", archive, "busybox"]);
      const name = `${reg.host}/s/${format}:1`;
      skopeo(["copy", "--dest-tls-verify=false", `${format}:${archive}${format === "docker-archive" ? ":busybox:latest" : ""}`, `docker://${name}`]);
      const info = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${name}`]));
      const dst = freshRoot();
      await ok(dst, ["pull", name]);
      assert.equal(await ok(dst, ["run", "--rm", name, "sh", "-c", "echo $((6*7))"]), "42\n");
      const inspected = JSON.parse(await ok(dst, ["image", "inspect", name]))[0];
      assert.equal(inspected.Architecture, "amd64");
      assert.ok(info.mediaType === undefined || /manifest/.test(info.mediaType), format);
    }
  });

  test("a multi-arch index: the host's platform by default, --platform picks another, a missing one is one line", async () => {
    const repo = "m/multi";
    const base = `http://${reg.host}/v2/${repo}`;
    const amd = await ok(src(), ["push", "busybox", `${reg.host}/${repo}:amd64`]);
    const [, amdDigest, amdSize] = /digest: (sha256:\S+) size: (\d+)/.exec(amd)!;
    const amdManifest = JSON.parse(skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/${repo}:amd64`]));
    const amdConfig = JSON.parse(skopeo(["inspect", "--config", "--raw", "--tls-verify=false", `docker://${reg.host}/${repo}:amd64`]));
    // an "arm64" image: busybox's layer plus one holding /platform
    const pack = tar.pack();
    pack.entry({ name: "platform", mode: 0o644 }, "arm64\n");
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const layer = Buffer.concat(chunks);
    const config = Buffer.from(JSON.stringify({ architecture: "arm64", variant: "v8", os: "linux", config: amdConfig.config, rootfs: { type: "layers", diff_ids: [...amdConfig.rootfs.diff_ids, sha256(layer)] } }));
    const putBlob = async (data: Buffer) => {
      const start = await fetch(`${base}/blobs/uploads/`, { method: "POST" });
      assert.equal(start.status, 202);
      const loc = new URL(start.headers.get("location")!, base);
      loc.searchParams.set("digest", sha256(data));
      assert.equal((await fetch(loc, { method: "PUT", body: new Uint8Array(data), headers: { "Content-Type": "application/octet-stream" } })).status, 201);
    };
    await putBlob(layer);
    await putBlob(config);
    const armManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
        layers: [...amdManifest.layers, { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length }],
      }),
    );
    const putManifest = async (ref: string, type: string, body: Buffer) => assert.equal((await fetch(`${base}/manifests/${ref}`, { method: "PUT", body: new Uint8Array(body), headers: { "Content-Type": type } })).status, 201);
    await putManifest(sha256(armManifest), "application/vnd.oci.image.manifest.v1+json", armManifest);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(armManifest), size: armManifest.length, platform: { architecture: "arm64", os: "linux", variant: "v8" } },
          { mediaType: amdManifest.mediaType ?? "application/vnd.oci.image.manifest.v1+json", digest: amdDigest, size: Number(amdSize), platform: { architecture: "amd64", os: "linux" } },
        ],
      }),
    );
    await putManifest("1", "application/vnd.oci.image.index.v1+json", index);
    const name = `${reg.host}/${repo}:1`;

    const host = freshRoot();
    assert.match(await ok(host, ["pull", name]), new RegExp(`^1: Pulling from ${reg.host}/${repo} \\(linux/amd64\\)$`, "m"));
    assert.equal(JSON.parse(await ok(host, ["image", "inspect", name]))[0].Architecture, "amd64");
    assert.equal(await ok(host, ["run", "--rm", name, "sh", "-c", "cat /platform 2>/dev/null || echo no-platform-file"]), "no-platform-file\n");

    const arm = freshRoot();
    const out = await ok(arm, ["pull", "--platform", "linux/arm64", name]);
    assert.match(out, new RegExp(`^Digest: ${sha256(index)}$`, "m"));
    assert.equal(JSON.parse(await ok(arm, ["image", "inspect", name]))[0].Architecture, "arm64");
    // the layers of the arm64 manifest, not the amd64 one (busybox itself is this host's binary)
    assert.equal(await ok(arm, ["run", "--rm", name, "cat", "/platform"]), "arm64\n");

    const none = freshRoot();
    await fails(none, ["pull", "--platform", "linux/s390x", name], /^berth: pull .*: no image for linux\/s390x in the index \(it has linux\/arm64\/v8, linux\/amd64\)$/);
    await empty(none);
  });

  test("Basic auth (htpasswd): 401 without login is one line; login, push, pull; logout; ~/.docker/config.json is read", async () => {
    const name = `${authReg.host}/private/busybox:1`;
    await fails(src(), ["push", "busybox", name], /^berth: push .*unauthorized.*berth login/);
    const bad = await berth(src(), ["login", "-u", "alice", "-p", "wrong", authReg.host]);
    assert.equal(bad.code, 125);
    assert.equal(bad.stderr, `berth: login ${authReg.host}: unauthorized: incorrect username or password\n`);
    assert.equal(existsSync(path.join(dir, "auth.json")), false);
    assert.equal(await ok(src(), ["login", "-u", "alice", "--password-stdin", authReg.host], { input: "s3cret\n" }), "Login Succeeded!\n");
    const auth = JSON.parse(readFileSync(path.join(dir, "auth.json"), "utf8"));
    assert.equal(Buffer.from(auth.auths[authReg.host].auth, "base64").toString(), "alice:s3cret");
    await ok(src(), ["push", "busybox", name]);
    const dst = freshRoot();
    // --authfile names the same file the environment did
    await ok(dst, ["pull", "--authfile", path.join(dir, "auth.json"), name], { env: { REGISTRY_AUTH_FILE: path.join(dir, "none.json") } });
    assert.equal(await ok(dst, ["run", "--rm", name, "echo", "private"]), "private\n");
    assert.equal(await ok(src(), ["logout", authReg.host]), `Removed login credentials for ${authReg.host}\n`);
    const anon = freshRoot();
    await fails(anon, ["pull", name], /^berth: pull .*unauthorized/);
    await empty(anon);
    // Docker's own login file works as it is
    mkdirSync(path.join(home(), ".docker"), { recursive: true });
    writeFileSync(path.join(home(), ".docker", "config.json"), JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from("alice:s3cret").toString("base64") } } }));
    try {
      await ok(anon, ["pull", name]);
    } finally {
      rmSync(path.join(home(), ".docker"), { recursive: true, force: true });
    }
  });

  test("Bearer token flow: anonymous pull, push after login, one token per scope", async () => {
    const tp = await tokenProxy(reg.port, "bob", "hunter2");
    servers.push(tp.server);
    const name = `${tp.host}/t/busybox:1`;
    await ok(src(), ["push", "busybox", `${reg.host}/t/busybox:1`]); // present behind the proxy
    const dst = freshRoot();
    tp.requests.length = 0;
    await ok(dst, ["pull", name]);
    // manifest, config and layer requests: one token for the pull scope
    assert.deepEqual(tp.requests, [{ scopes: ["repository:t/busybox:pull"], user: undefined }]);
    assert.equal(await ok(dst, ["run", "--rm", name, "echo", "token"]), "token\n");
    await fails(src(), ["push", "busybox", `${tp.host}/t/pushed:1`], /^berth: push .*unauthorized/);
    assert.match((await berth(src(), ["login", "-u", "bob", "-p", "nope", tp.host])).stderr, /^berth: login .*: unauthorized: incorrect username or password\n$/);
    assert.equal(await ok(src(), ["login", "-u", "bob", "-p", "hunter2", tp.host]), "Login Succeeded!\n");
    tp.requests.length = 0;
    assert.match(await ok(src(), ["push", "busybox", `${tp.host}/t/pushed:1`]), /^1: digest: sha256:/m);
    assert.ok(tp.requests.every((r) => r.user === "bob"));
    assert.ok(tp.requests.some((r) => r.scopes.includes("repository:t/pushed:pull,push")), JSON.stringify(tp.requests));
    JSON.parse(skopeo(["inspect", "--tls-verify=false", `docker://${reg.host}/t/pushed:1`]));
    await ok(src(), ["logout", tp.host]);
  });

  test("faults: a 404 tag, a corrupted blob, a truncated blob: one line each, and nothing half-made", async () => {
    // a layer big enough to misbehave in: 3 MB of random data on busybox
    const big = `${reg.host}/f/big:1`;
    await ok(src(), ["run", "--name", "mkbig", "busybox", "sh", "-c", "head -c 3000000 /dev/urandom > /big"]);
    await ok(src(), ["commit", "mkbig", big]);
    await ok(src(), ["rm", "mkbig"]);
    await ok(src(), ["push", big]);
    const fp = await faultProxy(() => reg.port);
    servers.push(fp.server);
    const via = `${fp.host}/f/big:1`;

    const r404 = freshRoot();
    await fails(r404, ["pull", `${fp.host}/f/big:nope`], /^berth: pull .*f\/big:nope: tag nope: manifest unknown$/);
    await empty(r404);

    fp.state.mode = "corrupt";
    const corrupt = freshRoot();
    const bad = await fails(corrupt, ["pull", via], /^berth: pull .*: layer [0-9a-f]{12}: .*digest mismatch/);
    assert.match(bad.stderr, /digest mismatch: expected sha256:[0-9a-f]{64}, the registry sent content with digest sha256:[0-9a-f]{64}\n$/);
    await empty(corrupt);
    assert.deepEqual(readdirSync(path.join(corrupt.root, "image", "ingest")), [], "bad content is not kept for a resume");

    fp.state.mode = "truncate";
    const cut = freshRoot();
    await fails(cut, ["pull", via], /^berth: pull .*: layer [0-9a-f]{12}: download failed after 6 tries: .* \(the \d+ bytes so far are kept for the next pull\)$/);
    await empty(cut);
    // the next pull resumes from the bytes kept
    fp.state.mode = "pass";
    fp.state.ranges.length = 0;
    await ok(cut, ["pull", via]);
    assert.ok(fp.state.ranges.some((r) => /^bytes=[1-9]\d*-$/.test(r)), `a Range request: ${fp.state.ranges}`);
    assert.equal(await ok(cut, ["run", "--rm", via, "sh", "-c", "wc -c < /big"]), "3000000\n");
  });

  test("^C mid-pull: one line, nothing half-made, and the next pull resumes", async () => {
    const fp = await faultProxy(() => reg.port);
    servers.push(fp.server);
    const via = `${fp.host}/f/big:1`;
    fp.state.mode = "slow";
    const dst = freshRoot();
    const pulling = runAsync(BERTH, ["--root", dst.root, "--runroot", dst.runroot, "pull", via], { env: env() });
    for (let i = 0; i < 300 && fp.state.blobBytes < 500_000; i++) await sleep(50);
    pulling.child.kill("SIGINT");
    const r = await pulling;
    assert.equal(r.code, 125);
    assert.equal(r.stderr, `berth: pull ${via}: interrupted\n`);
    await empty(dst);
    fp.state.mode = "pass";
    fp.state.ranges.length = 0;
    await ok(dst, ["pull", via]);
    assert.ok(fp.state.ranges.some((x) => /^bytes=[1-9]\d*-$/.test(x)), `resumed with Range: ${fp.state.ranges}`);
  });

  test("the registry killed mid-pull and restarted: the pull resumes and completes", async () => {
    const fp = await faultProxy(() => reg.port);
    servers.push(fp.server);
    const via = `${fp.host}/f/big:1`;
    fp.state.mode = "slow";
    const dst = freshRoot();
    const pulling = berth(dst, ["pull", via]);
    // wait (bounded) until a good part of the layer has come, then crash the registry
    for (let i = 0; i < 300 && fp.state.blobBytes < 1_000_000; i++) await sleep(50);
    assert.ok(fp.state.blobBytes >= 1_000_000, "the download got going");
    // the proxy has more of the blob buffered than it has sent; the crash takes that too
    await reg.kill();
    fp.cut();
    await sleep(300);
    fp.state.mode = "pass";
    await reg.start();
    const r = await pulling;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fp.state.ranges.some((x) => /^bytes=[1-9]\d*-$/.test(x)), `resumed with Range: ${fp.state.ranges}`);
    assert.equal(await ok(dst, ["run", "--rm", via, "sh", "-c", "wc -c < /big"]), "3000000\n");
    assert.deepEqual(readdirSync(path.join(dst.root, "image", "ingest")), [], "no partial download left");
  });
});
