// bench/registry: `skopeo copy` push and pull of one big image against `berth registry serve`
// and Debian's docker-registry (distribution 2.8), side by side. The image is busybox (berth
// bootstrap) plus a synthetic ~100 MB gzip layer of random bytes (so neither skopeo nor the
// registry can shrink it, and skopeo sends it as it is), kept as an OCI layout in a temp dir.
// Each iteration, for each registry in a rotating order: a fresh storage, the registry started
// on a free loopback port, the push timed (skopeo copy oci:… docker://…), then the pull
// (docker://… → a fresh dir:), the registry stopped and its storage removed.
// docker-registry is started here with its own config file; never the Debian service.
// Usage: node dist/bench/registry.js [--iterations N] [--layer-mb N] [--json]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, createWriteStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pack } from "tar-stream";
import { createGzip } from "node:zlib";
import { stats, which, type Stats } from "./common.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const BERTH = path.join(REPO, "bin", "berth");

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const ITERATIONS = arg("--iterations", 5);
const LAYER_MB = arg("--layer-mb", 100);
const JSON_OUT = process.argv.includes("--json");

const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** busybox saved by berth as an OCI layout, plus one gzip layer of LAYER_MB random MiB. */
async function makeImage(dir: string): Promise<string> {
  const root = path.join(dir, "berth-root");
  must(BERTH, ["--root", root, "bootstrap", "busybox"]);
  const archive = path.join(dir, "bb.tar");
  must(BERTH, ["--root", root, "save", "--format", "oci-archive", "-o", archive, "busybox"]);
  const layout = path.join(dir, "layout");
  mkdirSync(layout);
  must("tar", ["-xf", archive, "-C", layout]);
  const blob = (d: string) => path.join(layout, "blobs", "sha256", d.slice(7));
  const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8"));

  // the synthetic layer: a tar of one file of random bytes, gzip'd; digests of both forms
  const tarHash = createHash("sha256");
  const gzHash = createHash("sha256");
  let gzSize = 0;
  const tmp = path.join(layout, "blobs", "sha256", "synthetic.tmp");
  await new Promise<void>((resolve, reject) => {
    const p = pack();
    const gz = createGzip({ level: 1 });
    const out = createWriteStream(tmp);
    p.on("data", (c: unknown) => tarHash.update(c as Buffer));
    gz.on("data", (c: Buffer) => {
      gzHash.update(c);
      gzSize += c.length;
    });
    p.pipe(gz).pipe(out);
    out.on("finish", resolve);
    out.on("error", reject);
    const size = LAYER_MB << 20;
    const entry = p.entry({ name: "data/random.bin", size, mode: 0o644 }, (e) => (e ? reject(e) : p.finalize()));
    let written = 0;
    const write = (): void => {
      while (written < size) {
        const n = Math.min(1 << 20, size - written);
        written += n;
        if (!entry.write(randomBytes(n))) {
          entry.once("drain", write);
          return;
        }
      }
      entry.end(undefined);
    };
    write();
  });
  const gzDigest = `sha256:${gzHash.digest("hex")}`;
  must("mv", [tmp, blob(gzDigest)]);
  config.rootfs.diff_ids.push(`sha256:${tarHash.digest("hex")}`);
  const configBytes = JSON.stringify(config);
  writeFileSync(blob(sha256(configBytes)), configBytes);
  manifest.config = { ...manifest.config, digest: sha256(configBytes), size: Buffer.byteLength(configBytes) };
  manifest.layers.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: gzDigest, size: gzSize });
  const manifestBytes = JSON.stringify(manifest);
  writeFileSync(blob(sha256(manifestBytes)), manifestBytes);
  index.manifests = [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha256(manifestBytes), size: Buffer.byteLength(manifestBytes), annotations: { "org.opencontainers.image.ref.name": "bench" } }];
  writeFileSync(path.join(layout, "index.json"), JSON.stringify(index));
  rmSync(root, { recursive: true, force: true });
  return layout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: the registry exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${url}: no answer in 10 s`);
}

interface Running {
  host: string;
  stop(): Promise<void>;
}

type Starter = (storage: string, log: string) => Promise<Running>;

const registries: Record<string, Starter> = {
  "berth registry serve": async (storage, log) => {
    const port = await freePort();
    const fd = openSync(log, "w");
    const child = spawn(BERTH, ["registry", "serve", "--addr", `127.0.0.1:${port}`, "--storage", storage], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    await waitReady(`http://127.0.0.1:${port}`, child);
    return { host: `127.0.0.1:${port}`, stop: () => stopChild(child) };
  },
  "docker-registry 2.8": async (storage, log) => {
    const port = await freePort();
    const config = `${storage}.yml`;
    writeFileSync(config, `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    const fd = openSync(log, "w");
    const child = spawn("docker-registry", ["serve", config], { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    await waitReady(`http://127.0.0.1:${port}`, child);
    return { host: `127.0.0.1:${port}`, stop: () => stopChild(child) };
  },
};

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function timed(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  must(cmd, args);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root (berth bootstrap makes the busybox image)");
  if (!which("skopeo")) throw new Error("needs skopeo (scripts/setup installs it)");
  const names = Object.keys(registries).filter((n) => !n.startsWith("docker-registry") || which("docker-registry"));
  const notes: string[] = [];
  if (names.length < 2) notes.push("docker-registry is not installed (apt-get install docker-registry; this bench never uses its service): berth alone");
  const dir = mkdtempSync(path.join(os.tmpdir(), "berth-bench-registry-"));
  const samples: Record<string, { push: number[]; pull: number[] }> = Object.fromEntries(names.map((n) => [n, { push: [], pull: [] }]));
  try {
    const layout = await makeImage(dir);
    const size = Number(must("du", ["-sb", path.join(layout, "blobs")]).split("\t")[0]);
    for (let i = 0; i < ITERATIONS; i++) {
      const order = names.map((_, k) => names[(k + i) % names.length]!);
      for (const name of order) {
        const storage = path.join(dir, `storage-${i}`);
        const reg = await registries[name]!(storage, path.join(dir, `log-${i}`));
        const out = path.join(dir, `pulled-${i}`);
        try {
          samples[name]!.push.push(timed("skopeo", ["copy", "-q", `oci:${layout}:bench`, `docker://${reg.host}/bench/image:1`, "--dest-tls-verify=false"]));
          samples[name]!.pull.push(timed("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${reg.host}/bench/image:1`, `dir:${out}`]));
        } finally {
          await reg.stop();
          rmSync(storage, { recursive: true, force: true });
          rmSync(`${storage}.yml`, { force: true });
          rmSync(out, { recursive: true, force: true });
        }
      }
    }
    const result: Record<string, { push?: Stats; pull?: Stats }> = {};
    for (const n of names) result[n] = { push: stats(samples[n]!.push, 1), pull: stats(samples[n]!.pull, 1) };
    const berth = result["berth registry serve"]!;
    const docker = result["docker-registry 2.8"];
    const ratio = (a?: Stats, b?: Stats) => (a && b ? Math.round((a.medianMs / b.medianMs) * 100) / 100 : undefined);
    const summary = { image: { bytes: size, layerMiB: LAYER_MB }, iterations: ITERATIONS, result, ratio: { push: ratio(berth.push, docker?.push), pull: ratio(berth.pull, docker?.pull) }, notes };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    console.log(`image: busybox + ${LAYER_MB} MiB random gzip layer, ${(size / 1e6).toFixed(1)} MB of blobs; ${ITERATIONS} iterations`);
    console.log("registry                 push median (p90)      pull median (p90)");
    for (const n of names) {
      const r = result[n]!;
      console.log(`${n.padEnd(24)} ${`${r.push!.medianMs} ms (${r.push!.p90Ms})`.padEnd(22)} ${r.pull!.medianMs} ms (${r.pull!.p90Ms})`);
    }
    if (docker) console.log(`berth / docker-registry: push ${summary.ratio.push}x, pull ${summary.ratio.pull}x (below 1 is faster)`);
    for (const n of notes) console.log(`note: ${n}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench/registry: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
