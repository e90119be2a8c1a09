// Issue 4's "Must hold" list, end to end through the image store (both snapshotters): hostile
// layers arriving in an oci-archive are refused with one clear line, write nothing outside the
// store and leave no half-made image, blob, snapshot or temp dir; images with sha512 digests and
// Docker schema2 manifests, configs and manifest lists load and mount. Then the CLI: `images -a`
// shows the intermediate images `images` hides, and a real container keeps its image from rmi
// (without -f) and from prune.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import zlib from "node:zlib";
import tar from "tar-stream";
import { BerthError } from "../../src/errors.js";
import { loadImages } from "../../src/image/archive.js";
import { overlaySupported, type SnapshotterKind } from "../../src/image/snapshot/index.js";
import { ImageStore, type Image } from "../../src/image/store.js";
import { MediaType, hostPlatform } from "../../src/oci/index.js";
import { REPO } from "../helpers/oci.js";

const rootSkip = process.getuid?.() === 0 ? false : "needs root: layers hold owners and devices, snapshots mount";

interface Item {
  header: Partial<tar.Header> & { name: string };
  body?: string | Buffer;
}
const T = new Date("2024-05-01T12:00:00Z");
const file = (name: string, body: string): Item => ({ header: { name, type: "file", mode: 0o644, mtime: T }, body });
const dir = (name: string): Item => ({ header: { name, type: "directory", mode: 0o755, mtime: T } });
const symlink = (name: string, linkname: string): Item => ({ header: { name, type: "symlink", linkname, mode: 0o777, mtime: T } });
const hardlink = (name: string, linkname: string): Item => ({ header: { name, type: "link", linkname, mode: 0o644, mtime: T } });

async function pack(items: (Item | { name: string; body: Buffer })[]): Promise<Buffer> {
  const p = tar.pack();
  for (const i of items) {
    if ("header" in i) p.entry(i.header, i.body ?? "");
    else p.entry({ name: i.name, type: "file", mode: 0o644, mtime: T }, i.body);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const digest = (b: Buffer | string, alg: "sha256" | "sha512" = "sha256") => `${alg}:${createHash(alg).update(b).digest("hex")}`;

interface LayerSpec {
  /** the uncompressed tar */
  plain: Buffer;
  /** the blob as stored (default: gzip of plain) */
  blob?: Buffer;
  /** the descriptor's digest (default: of the blob) */
  descriptorDigest?: string;
  /** the config's diffID (default: of plain) */
  diffId?: string;
}

/**
 * An oci-archive of one image named `ref`, every digest in `alg`. A blob file is named after its
 * descriptor's digest, whatever its bytes are (so a tampered blob is one whose name lies).
 */
async function ociArchive(ref: string, layers: LayerSpec[], alg: "sha256" | "sha512" = "sha256"): Promise<Buffer> {
  const blobs: [string, Buffer][] = [];
  const put = (bytes: Buffer, d = digest(bytes, alg)) => {
    blobs.push([`blobs/${d.replace(":", "/")}`, bytes]);
    return { digest: d, size: bytes.length };
  };
  const platform = hostPlatform();
  const descs = layers.map((l) => {
    const blob = l.blob ?? zlib.gzipSync(l.plain);
    return { mediaType: MediaType.OCI_LAYER_GZIP, ...put(blob, l.descriptorDigest) };
  });
  const config = put(Buffer.from(JSON.stringify({ architecture: platform.architecture, os: platform.os, config: { Cmd: ["sh"] }, rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId ?? digest(l.plain, alg)) } })));
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: { mediaType: MediaType.OCI_CONFIG, ...config }, layers: descs })));
  const index = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [{ mediaType: MediaType.OCI_MANIFEST, ...manifest, annotations: { "org.opencontainers.image.ref.name": ref } }] };
  return pack([
    { name: "oci-layout", body: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    { name: "index.json", body: Buffer.from(JSON.stringify(index)) },
    ...blobs.map(([name, body]) => ({ name, body })),
  ]);
}

/** Everything below dir (path, type, size, mtime), skipping the given subtrees. */
function listing(dir: string, skip: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d).sort()) {
      const p = path.join(d, e);
      if (skip.includes(p)) continue;
      const st = fs.lstatSync(p);
      out.push(`${p} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function suite(kind: SnapshotterKind) {
  describe(`must hold on ${kind} snapshots`, { skip: rootSkip || (kind === "overlay" && !overlaySupported() ? "the kernel has no overlay filesystem" : false) }, () => {
    let tmp: string;
    let dataRoot: string;
    let store: ImageStore;
    let good: Image;
    const probe = `berth-musthold-${randomBytes(4).toString("hex")}`;
    const mounts: string[] = [];
    let n = 0;

    before(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), `berth-musthold-${kind}-`));
      fs.mkdirSync(path.join(tmp, "outside"));
      fs.writeFileSync(path.join(tmp, "outside", "file"), "untouched");
      dataRoot = path.join(tmp, "data");
      store = new ImageStore(dataRoot, { snapshotter: kind });
      const loaded = await loadImages(store, Readable.from([await ociArchive("docker.io/library/good:1", [{ plain: await pack([dir("etc/"), file("etc/hostname", "good")]) }])]));
      good = loaded[0]!.image;
    });
    after(() => {
      for (const m of mounts.splice(0)) spawnSync("umount", ["-l", m]);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const snapRoot = () => path.join(dataRoot, "snapshots", kind);
    /** All a failed load could leave behind, and everything outside the store. */
    const state = () => ({
      index: fs.readFileSync(path.join(dataRoot, "image", "index.json"), "utf8"),
      blobs: store.content.list().map((b) => b.digest).sort(),
      snapshots: store.snapshots.list().map((s) => s.chainId).sort(),
      snapshotTmp: fs.readdirSync(path.join(snapRoot(), "tmp")),
      links: kind === "overlay" ? fs.readdirSync(path.join(snapRoot(), "l")).sort() : [],
      ingest: fs.readdirSync(path.join(dataRoot, "image", "ingest")),
      leases: fs.readdirSync(path.join(dataRoot, "image", "leases")),
      outside: listing(tmp, [dataRoot]),
      etc: [fs.existsSync(`/etc/${probe}`), fs.statSync("/etc/passwd").nlink, fs.statSync("/etc/passwd").mtimeMs],
    });

    /** Loads an archive that must fail with `error`; nothing at all may change. */
    async function refused(archive: Buffer, error: RegExp) {
      const before = state();
      await assert.rejects(loadImages(store, Readable.from([archive])), (e: unknown) => {
        assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
        assert.match(e.message, error);
        assert.ok(!e.message.includes("\n"), "one line");
        return true;
      });
      assert.deepEqual(state(), before, "no image, blob, snapshot or temp dir left; nothing outside changed");
      assert.deepEqual(store.list().map((i) => i.id), [good.id]);
      assert.throws(() => store.resolve("hostile:1"), /No such image: hostile:1/);
    }

    /** The image's rootfs, mounted for `look`, then unmounted and its container snapshot removed. */
    function view(image: Image, look: (rootfs: string) => void) {
      const key = `view-${n++}`;
      store.snapshots.prepare(key, image.chain.at(-1), { image: image.id });
      const at = path.join(tmp, key);
      fs.mkdirSync(at);
      store.snapshots.mount(key, at);
      mounts.push(at);
      try {
        look(at);
      } finally {
        assert.equal(spawnSync("umount", [at]).status, 0);
        mounts.splice(mounts.indexOf(at), 1);
        store.snapshots.removeActive(key);
        fs.rmdirSync(at);
      }
    }

    test("path traversal entries are refused", async () => {
      const escape = `../../../${path.basename(tmp)}/outside/escaped`;
      await refused(await ociArchive("hostile:1", [{ plain: await pack([file(escape, "pwned")]) }]), /^layer: entry "[./]+[\w-]+\/outside\/escaped": path escapes the root$/);
      await refused(await ociArchive("hostile:1", [{ plain: await pack([dir("ok/"), file("ok/../../escaped", "pwned")]) }]), /path escapes the root/);
    });

    test("a symlink to /etc followed by a file written through it is refused", async () => {
      await refused(await ociArchive("hostile:1", [{ plain: await pack([symlink("etc", "/etc"), file(`etc/${probe}`, "pwned")]) }]), new RegExp(`^layer: entry "etc/${probe}": too many levels of symbolic links$`));
      await refused(await ociArchive("hostile:1", [{ plain: await pack([symlink("up", "../../../../../etc"), symlink("etc", "up"), file(`etc/${probe}`, "pwned")]) }]), /too many levels of symbolic links|is not a directory/);
    });

    test("a symlink to /etc planted by an earlier layer: the next layer's file stays in the image", async () => {
      // overlay: the second layer unpacks into its own empty dir, where etc/ is a new directory;
      // copy: the second layer lands on a copy of the first, where etc -> /etc resolves to itself
      const archive = await ociArchive("planted:1", [{ plain: await pack([symlink("etc", "/etc")]) }, { plain: await pack([file(`etc/${probe}`, "inside")]) }]);
      if (kind === "copy") return refused(archive, new RegExp(`entry "etc/${probe}": too many levels of symbolic links`));
      const before = state();
      const [{ image }] = await loadImages(store, Readable.from([archive]));
      assert.deepEqual(state().etc, before.etc, "nothing written in the host's /etc");
      assert.deepEqual(state().outside, before.outside);
      view(image, (rootfs) => assert.equal(fs.readFileSync(path.join(rootfs, "etc", probe), "utf8"), "inside"));
      store.remove("planted:1");
      assert.deepEqual(state(), before, "and it goes without a trace");
    });

    test("a hardlink to a host file is refused", async () => {
      await refused(await ociArchive("hostile:1", [{ plain: await pack([hardlink("passwd", "/etc/passwd")]) }]), /^layer: entry "passwd": hardlink target "\/etc\/passwd" does not exist in the layer or below it$/);
      await refused(await ociArchive("hostile:1", [{ plain: await pack([hardlink("passwd", "../../../../../../etc/passwd")]) }]), /entry "passwd": path escapes the root/);
      await refused(await ociArchive("hostile:1", [{ plain: await pack([symlink("e", "/etc"), hardlink("passwd", "e/passwd")]) }]), /hardlink target "e\/passwd" does not exist/);
    });

    test("a whiteout of .. is refused", async () => {
      await refused(await ociArchive("hostile:1", [{ plain: await pack([file(".wh..", "")]) }]), /^layer: entry "\.wh\.\.": not a valid whiteout$/);
      await refused(await ociArchive("hostile:1", [{ plain: await pack([dir("a/"), file("a/.wh..", "")]) }]), /entry "a\/\.wh\.\.": not a valid whiteout/);
    });

    test("a truncated gzip layer is refused", async () => {
      const plain = await pack([file("big", randomBytes(100_000).toString("hex"))]);
      const gz = zlib.gzipSync(plain);
      await refused(await ociArchive("hostile:1", [{ plain, blob: gz.subarray(0, gz.length >> 1) }]), /^layer: unexpected end of data$/);
    });

    test("a blob whose bytes do not match its digest, and a layer whose diffID lies, are refused", async () => {
      const plain = await pack([file("f", "the real content")]);
      const gz = zlib.gzipSync(plain);
      const tampered = Buffer.from(gz);
      tampered[tampered.length - 12] ^= 0xff;
      await refused(await ociArchive("hostile:1", [{ plain, blob: tampered, descriptorDigest: digest(gz) }]), new RegExp(`^blob ${digest(gz)}: digest mismatch: got ${digest(tampered)}$`));
      const lie = digest("another layer");
      await refused(await ociArchive("hostile:1", [{ plain, diffId: lie }]), new RegExp(`^layer ${lie}: diffID mismatch: got ${digest(plain)}$`));
    });

    test("sha512 digests: blobs, config, manifest and diffIDs", async () => {
      const base = await pack([dir("etc/"), file("etc/alg", "sha512")]);
      const top = await pack([file("top", "second layer")]);
      const before = state();
      const [{ image }] = await loadImages(store, Readable.from([await ociArchive("docker.io/library/wide:1", [{ plain: base }, { plain: top }], "sha512")]));
      assert.match(image.id, /^sha512:[0-9a-f]{128}$/);
      assert.match(image.manifest.digest, /^sha512:/);
      assert.equal(image.chain[0], digest(base, "sha512"), "the first chain ID is the first diffID");
      assert.ok(store.snapshots.has(image.chain[1]!));
      assert.ok(store.content.list().some((b) => b.digest === digest(zlib.gzipSync(base), "sha512")));
      assert.equal(store.resolve("wide:1").id, image.id);
      assert.equal(store.resolve(image.id.slice(0, 20)).id, image.id, "an ID prefix with its algorithm");
      view(image, (rootfs) => {
        assert.equal(fs.readFileSync(path.join(rootfs, "etc/alg"), "utf8"), "sha512");
        assert.equal(fs.readFileSync(path.join(rootfs, "top"), "utf8"), "second layer");
      });
      store.remove("wide:1");
      assert.deepEqual(state(), before, "gc takes its blobs and snapshots");
    });

    test("Docker schema2: a manifest list, a manifest and a config with Docker's media types", async () => {
      const before = state();
      const platform = hostPlatform();
      const plain = await pack([dir("etc/"), file("etc/origin", "docker")]);
      const gz = zlib.gzipSync(plain);
      const layer = store.content.writeBlob(gz);
      const config = store.content.writeBlob(
        JSON.stringify({
          architecture: platform.architecture,
          os: platform.os,
          config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"], Entrypoint: null, Volumes: null, Labels: null },
          container_config: { Cmd: null },
          docker_version: "24.0.7",
          created: "2024-05-01T12:00:00Z",
          history: [{ created: "2024-05-01T12:00:00Z", created_by: "ADD rootfs.tar /" }],
          rootfs: { type: "layers", diff_ids: [digest(plain)] },
        }),
      );
      const manifest = store.content.writeBlob(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.DOCKER_MANIFEST,
          config: { mediaType: MediaType.DOCKER_CONFIG, ...config },
          layers: [{ mediaType: MediaType.DOCKER_LAYER_GZIP, ...layer }],
        }),
      );
      // another platform's manifest is listed first and is not in the store, as after a pull
      const other = platform.architecture === "arm64" ? { architecture: "amd64", os: "linux" } : { architecture: "arm64", os: "linux", variant: "v8" };
      const list = store.content.writeBlob(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.DOCKER_MANIFEST_LIST,
          manifests: [
            { mediaType: MediaType.DOCKER_MANIFEST, digest: digest("not here"), size: 8, platform: other },
            { mediaType: MediaType.DOCKER_MANIFEST, ...manifest, platform: { architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}) } },
          ],
        }),
      );
      const image = await store.add({ mediaType: MediaType.DOCKER_MANIFEST_LIST, ...list }, ["registry.example:5000/team/dockerish:1"]);
      assert.equal(image.id, config.digest);
      assert.equal(image.manifest.digest, manifest.digest, "the host's manifest out of the list");
      assert.deepEqual(image.config.config?.Cmd, ["/bin/sh"]);
      assert.deepEqual(image.config.history?.map((h) => h.created_by), ["ADD rootfs.tar /"]);
      assert.deepEqual(image.chain, [digest(plain)]);
      assert.equal(store.resolve("registry.example:5000/team/dockerish:1").id, image.id);
      view(image, (rootfs) => assert.equal(fs.readFileSync(path.join(rootfs, "etc/origin"), "utf8"), "docker"));
      store.remove("registry.example:5000/team/dockerish:1");
      assert.deepEqual(state(), before, "gc walks the list and takes all of it");
    });
  });
}

suite("overlay");
suite("copy");

test("a layer is applied streaming: a 192 MiB file passes through a bounded amount of memory", { skip: rootSkip }, async () => {
  const { applyLayer } = await import("../../src/image/layer/index.js");
  const size = 192 << 20;
  const header = (await pack([{ header: { name: "big", type: "file", mode: 0o644, mtime: T, size }, body: Buffer.alloc(0) }])).subarray(0, 512);
  // the header block of a real tar entry, patched to the big size: tar-stream would want the body in memory
  header.write(size.toString(8).padStart(11, "0") + "\0", 124, 12, "latin1");
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of header) sum += c;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const baseline = process.memoryUsage().rss;
  const sampler = setInterval(sample, 5);
  async function* layer() {
    yield Buffer.from(header);
    // a fresh buffer each time: an applier that held on to them would grow by all of them
    for (let i = 0; i < size >> 20; i++) {
      sample();
      yield Buffer.alloc(1 << 20, 0x61);
    }
    yield Buffer.alloc(1024); // the end of the archive
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-stream-"));
  try {
    const got = await applyLayer(dir, Readable.from(layer()));
    sample();
    assert.equal(fs.statSync(path.join(dir, "big")).size, size);
    assert.equal(got.size, 512 + size + 1024);
    assert.ok(peak - baseline < 96 << 20, `memory grew by ${Math.round((peak - baseline) / (1 << 20))} MiB while applying a ${size >> 20} MiB layer`);
  } finally {
    clearInterval(sampler);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe("must hold: berth images -a, rmi and prune with a real container", { skip: rootSkip }, () => {
  const BERTH = path.join(REPO, "bin", "berth");
  let work: string;
  let root: string;
  let runroot: string;
  const berth = (args: string[]) => {
    const r = spawnSync(BERTH, ["--root", root, "--runroot", runroot, ...args], { encoding: "utf8", timeout: 120_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = (args: string[]) => {
    const r = berth(args);
    assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const snapshots = () => fs.readdirSync(path.join(root, "snapshots", "overlay")).filter((n) => /^[0-9a-f]{64}$/.test(n)).length;

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "berth-musthold-cli-"));
    root = path.join(work, "root");
    runroot = path.join(work, "run");
  });
  after(() => {
    if (fs.existsSync(root)) {
      for (const id of berth(["ps", "-aq"]).stdout.split("\n").filter(Boolean)) berth(["rm", "-f", id]);
    }
    fs.rmSync(work, { recursive: true, force: true });
  });

  test("images hides intermediate images (no name, a parent of another image); images -a shows them", async () => {
    const base = await pack([dir("etc/"), file("etc/base", "base")]);
    const top = await pack([file("top", "top")]);
    fs.writeFileSync(path.join(work, "base.tar"), base);
    const parent = ok(["import", path.join(work, "base.tar")]).trim();
    // a child image of it: a docker-archive of [base, top]
    const config = Buffer.from(JSON.stringify({ architecture: hostPlatform().architecture, os: "linux", rootfs: { type: "layers", diff_ids: [digest(base), digest(top)] } }));
    const archive = await pack([
      { name: "config.json", body: config },
      { name: "base.tar", body: base },
      { name: "top.tar", body: top },
      { name: "manifest.json", body: Buffer.from(JSON.stringify([{ Config: "config.json", RepoTags: ["child:1"], Layers: ["base.tar", "top.tar"] }])) },
    ]);
    fs.writeFileSync(path.join(work, "child.tar"), archive);
    ok(["load", "-i", path.join(work, "child.tar")]);
    const child = ok(["images", "-q", "--no-trunc", "child:1"]).trim();
    // a dangling image that nothing builds on is shown either way
    fs.writeFileSync(path.join(work, "other.tar"), await pack([file("other", "other")]));
    const dangling = ok(["import", path.join(work, "other.tar")]).trim();

    assert.deepEqual(ok(["images", "-q", "--no-trunc"]).split("\n").filter(Boolean).sort(), [child, dangling].sort());
    assert.deepEqual(ok(["images", "-aq", "--no-trunc"]).split("\n").filter(Boolean).sort(), [child, dangling, parent].sort());
    const table = ok(["images", "-a"]).split("\n").filter(Boolean);
    assert.equal(table.length, 4, table.join("\n"));
    assert.equal(table.filter((l) => /^<none>\s+<none>\s+/.test(l)).length, 2);
    assert.ok(table.some((l) => l.includes(parent.slice(7, 19))));
    assert.ok(!ok(["images"]).includes(parent.slice(7, 19)));
    for (const id of [child, dangling, parent]) ok(["rmi", id]);
    assert.equal(snapshots(), 0);
  });

  test("rmi refuses an image a container uses unless -f; prune keeps it; the container still runs", () => {
    ok(["bootstrap", "busybox"]);
    const id = ok(["create", "--name", "keeper", "busybox", "echo", "still here"]).trim();
    const r = berth(["rmi", "busybox"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`^berth: unable to remove image [0-9a-f]{12}: it is in use by ${id}\\n$`));
    assert.match(ok(["images"]), /^busybox\s+latest\s/m);

    assert.match(ok(["image", "prune", "-a", "-f"]), /Total reclaimed space: 0B/);
    assert.match(ok(["images"]), /^busybox\s+latest\s/m, "prune -a keeps an image a container uses");

    const image = ok(["images", "-q", "--no-trunc"]).trim();
    assert.equal(ok(["rmi", "-f", "busybox"]), "Untagged: busybox:latest\n");
    // as Docker: the image stays, dangling, while a container uses it
    assert.match(ok(["images"]), new RegExp(`^<none>\\s+<none>\\s+${image.slice(7, 19)}\\s`, "m"));
    ok(["image", "prune", "-a", "-f"]);
    assert.equal(ok(["images", "-q", "--no-trunc"]).trim(), image, "prune -a spares it");
    assert.equal(snapshots(), 1);
    ok(["start", "keeper"]);
    assert.equal(ok(["wait", "keeper"]).trim(), "0");
    assert.equal(ok(["logs", "keeper"]), "still here\n");

    ok(["rm", "keeper"]);
    assert.match(ok(["image", "prune", "-f"]), new RegExp(`deleted: ${image}`));
    assert.equal(ok(["images", "-q"]), "");
    assert.equal(snapshots(), 0, "gone with the last user");
  });

  // minutes and the network (the Debian mirror apt uses): run with BERTH_TEST_DEBIAN=1
  const debianSkip = process.env.BERTH_TEST_DEBIAN !== "1" ? "set BERTH_TEST_DEBIAN=1 (debootstrap from the apt mirror, minutes)" : spawnSync("debootstrap", ["--version"]).error ? "debootstrap is not installed" : false;
  test("bootstrap debian makes debian:bookworm, a normal image", { skip: debianSkip }, () => {
    const r = spawnSync(BERTH, ["--root", root, "--runroot", runroot, "bootstrap", "debian", "--suite", "bookworm"], { encoding: "utf8", timeout: 20 * 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const id = r.stdout.trim().split("\n").pop()!;
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const [cfg] = JSON.parse(ok(["image", "inspect", "debian:bookworm"]));
    assert.equal(cfg.Id, id);
    assert.deepEqual(cfg.Config.Cmd, ["bash"]);
    assert.match(ok(["history", "--no-trunc", "debian:bookworm"]), /berth bootstrap debian --suite bookworm \(debootstrap --variant=minbase /);
    const chain = cfg.GraphDriver.Data.ChainIDs[0].slice(7);
    const fsDir = path.join(root, "snapshots", "overlay", chain, "fs");
    assert.match(fs.readFileSync(path.join(fsDir, "etc/debian_version"), "utf8"), /^12\./);
    assert.ok(fs.statSync(path.join(fsDir, "usr/bin/dpkg")).isFile());
    assert.deepEqual(fs.readdirSync(path.join(fsDir, "var/cache/apt/archives")).filter((f) => f.endsWith(".deb")), [], "apt's cache is left out");
    ok(["tag", "debian:bookworm", "localhost/mine/debian:12"]);
    ok(["save", "-o", path.join(work, "debian.tar"), "debian:bookworm"]);
    assert.match(ok(["rmi", "debian:bookworm", "localhost/mine/debian:12"]), /Deleted: /);
    assert.equal(ok(["load", "-i", path.join(work, "debian.tar")]), "Loaded image: debian:bookworm\n");
    assert.equal(ok(["images", "-q", "--no-trunc", "debian:bookworm"]).trim(), id);
    ok(["rmi", "debian:bookworm"]);
    assert.equal(snapshots(), 0);
  });
});
