// berth's image commands as a user types them: bootstrap, images, tag, inspect, history,
// import, save/load (both archive formats, round trips with podman and skopeo), rmi, prune,
// and clear errors that leave nothing behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { REPO, rootSkip } from "../helpers/oci.js";

const BERTH = path.join(REPO, "bin", "berth");
const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe("berth image commands", { skip: rootSkip }, () => {
  let dir: string;
  let root: string;
  const berth = (args: string[], opts: { input?: Buffer | string; root?: string } = {}): Result => {
    const r = spawnSync(BERTH, ["--root", opts.root ?? root, ...args], { input: opts.input ?? "", timeout: 120_000, maxBuffer: 64 << 20 });
    return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const ok = (args: string[], opts?: { input?: Buffer | string; root?: string }) => {
    const r = berth(args, opts);
    assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  /** a failure: non-zero, one line on stderr naming the thing */
  const fails = (args: string[], pattern: RegExp, opts?: { input?: Buffer | string }) => {
    const r = berth(args, opts);
    assert.notEqual(r.code, 0, `berth ${args.join(" ")} should fail`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
    return r;
  };
  const imageIds = () => ok(["images", "-q", "--no-trunc"]).split("\n").filter(Boolean).sort();
  const leftovers = (r = root) => readdirSync(path.join(r, "image", "ingest"));
  let busyboxId: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-images-"));
    root = path.join(dir, "root");
    busyboxId = ok(["bootstrap", "busybox"]).trim();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test("bootstrap busybox makes busybox:latest, the same digest every time", () => {
    assert.match(busyboxId, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok(["bootstrap", "busybox"]).trim(), busyboxId);
    const out = ok(["images"]).split("\n");
    assert.match(out[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(out[1]!, new RegExp(`^busybox\\s+latest\\s+${busyboxId.slice(7, 19)}\\s+.+ago\\s+\\d+(\\.\\d+)?[kM]B$`));
    assert.equal(ok(["images", "-q"]), `${busyboxId.slice(7, 19)}\n`);
    assert.equal(ok(["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]), `busybox:latest ${busyboxId.slice(7, 19)}\n`);
    const cfg = JSON.parse(ok(["image", "inspect", "busybox"]))[0];
    assert.equal(cfg.Id, busyboxId);
    assert.deepEqual(cfg.RepoTags, ["busybox:latest"]);
    assert.deepEqual(cfg.Config.Cmd, ["sh"]);
    assert.equal(cfg.RootFS.Layers.length, 1);
    // the layer is an overlay snapshot holding busybox itself
    const chain = cfg.GraphDriver.Data.ChainIDs[0].slice(7);
    assert.equal(readFileSync(path.join(root, "snapshots", "overlay", chain, "fs", "bin", "busybox")).equals(readFileSync("/bin/busybox")), true);
  });

  test("tag adds a name; images by repository, --digests, inspect --format and history", () => {
    ok(["tag", "busybox", "localhost:5000/tools/bb:1.0"]);
    const lines = ok(["images", "--digests"]).trim().split("\n");
    assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID/);
    assert.equal(lines.length, 3);
    assert.match(ok(["images", "localhost:5000/tools/bb"]), /localhost:5000\/tools\/bb\s+1\.0\s/);
    assert.doesNotMatch(ok(["images", "localhost:5000/tools/bb"]), /^busybox/m);
    assert.equal(ok(["image", "inspect", "-f", "{{json .RepoTags}}", busyboxId.slice(7, 19)]), '["busybox:latest","localhost:5000/tools/bb:1.0"]\n');
    const history = ok(["history", "busybox"]).split("\n");
    assert.match(history[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(history[1]!, /berth bootstrap busybox/);
    assert.deepEqual(ok(["rmi", "localhost:5000/tools/bb:1.0"]).trim().split("\n"), ["Untagged: localhost:5000/tools/bb:1.0"]);
    assert.deepEqual(imageIds(), [busyboxId]);
  });

  test("import a rootfs tarball (file and stdin) with --change and --message", () => {
    const src = path.join(dir, "src");
    mkdirSync(path.join(src, "etc"), { recursive: true });
    writeFileSync(path.join(src, "etc", "greeting"), "hello from an imported layer\n");
    const tarball = path.join(dir, "rootfs.tar");
    assert.equal(spawnSync("tar", ["-C", src, "-cf", tarball, "."]).status, 0);
    const id = ok(["import", "-m", "by hand", "-c", 'CMD ["/bin/cat", "/etc/greeting"]', "-c", "ENV GREETING=hi", "-c", "WORKDIR /etc", tarball, "mine:1"]).trim();
    const cfg = JSON.parse(ok(["image", "inspect", "mine:1"]))[0];
    assert.equal(cfg.Id, id);
    assert.deepEqual(cfg.Config.Cmd, ["/bin/cat", "/etc/greeting"]);
    assert.deepEqual(cfg.Config.Env, ["GREETING=hi"]);
    assert.equal(cfg.Config.WorkingDir, "/etc");
    assert.equal(cfg.Comment, "by hand");
    // the same tarball gzip'd on stdin has the same layer (diffID)
    const viaStdin = ok(["import", "-", "mine:gz"], { input: gzipSync(readFileSync(tarball)) }).trim();
    const gz = JSON.parse(ok(["image", "inspect", viaStdin]))[0];
    assert.deepEqual(gz.RootFS.Layers, cfg.RootFS.Layers);
    assert.deepEqual(ok(["rmi", "mine:1", "mine:gz"]).split("\n").filter((l) => l.startsWith("Deleted")).length, 2);
  });

  test("save and load round-trip in docker-archive and oci-archive, plain and gzip", () => {
    for (const format of ["docker-archive", "oci-archive"]) {
      const file = path.join(dir, `bb-${format}.tar`);
      ok(["save", "--format", format, "-o", file, "busybox"]);
      const other = path.join(dir, `load-${format}`);
      assert.equal(ok(["load", "-i", file], { root: other }), "Loaded image: busybox:latest\n");
      assert.equal(ok(["images", "-q", "--no-trunc"], { root: other }).trim(), busyboxId);
      ok(["rmi", "busybox"], { root: other });
      assert.equal(ok(["load"], { root: other, input: gzipSync(readFileSync(file)) }), "Loaded image: busybox:latest\n");
      assert.equal(ok(["images", "-q", "--no-trunc"], { root: other }).trim(), busyboxId);
      assert.deepEqual(leftovers(other), []);
    }
    // to stdout
    const out = spawnSync(BERTH, ["--root", root, "save", "busybox"], { maxBuffer: 64 << 20 });
    assert.equal(out.status, 0);
    assert.equal(out.stdout.length % 512, 0);
  });

  test("docker-archive and oci-archive interoperate with podman", { skip: has("podman") ? false : "podman is not installed" }, () => {
    const p = path.join(dir, "podman");
    const podman = (args: string[]) => {
      const r = spawnSync("podman", ["--root", `${p}/root`, "--runroot", `${p}/run`, "--tmpdir", `${p}/tmp`, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file", ...args], { encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, `podman ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    try {
      podman(["load", "-i", path.join(dir, "bb-docker-archive.tar")]);
      assert.equal(podman(["images", "-q", "--no-trunc", "docker.io/library/busybox:latest"]).trim(), busyboxId);
      podman(["rmi", "-a"]);
      podman(["load", "-i", path.join(dir, "bb-oci-archive.tar")]);
      assert.equal(podman(["images", "-q", "--no-trunc"]).trim(), busyboxId);
      for (const format of ["docker-archive", "oci-archive"]) {
        const file = path.join(dir, `podman-${format}.tar`);
        podman(["save", "--format", format, "-o", file, "docker.io/library/busybox:latest"]);
        const other = path.join(dir, `from-podman-${format}`);
        assert.equal(ok(["load", "-i", file], { root: other }), "Loaded image: busybox:latest\n");
        assert.equal(ok(["images", "-q", "--no-trunc"], { root: other }).trim(), busyboxId);
      }
    } finally {
      spawnSync("podman", ["--root", `${p}/root`, "--runroot", `${p}/run`, "--storage-driver", "vfs", "system", "reset", "-f"], { encoding: "utf8" });
      rmSync(p, { recursive: true, force: true });
    }
  });

  test("skopeo reads berth's archives and writes ones berth loads", { skip: has("skopeo") ? false : "skopeo is not installed" }, () => {
    const skopeo = (args: string[]) => {
      const r = spawnSync("skopeo", ["--insecure-policy", ...args], { encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    const layout = path.join(dir, "skopeo-layout");
    skopeo(["copy", `docker-archive:${path.join(dir, "bb-docker-archive.tar")}`, `oci:${layout}:bb`]);
    const inspected = JSON.parse(skopeo(["inspect", "--config", `oci:${layout}:bb`]));
    assert.deepEqual(inspected.config.Cmd, ["sh"]);
    skopeo(["inspect", `oci-archive:${path.join(dir, "bb-oci-archive.tar")}`]);
    const back = path.join(dir, "skopeo-docker.tar");
    skopeo(["copy", `oci:${layout}:bb`, `docker-archive:${back}:localhost/bb:skopeo`]);
    const other = path.join(dir, "from-skopeo");
    assert.equal(ok(["load", "-i", back], { root: other }), "Loaded image: localhost/bb:skopeo\n");
    // skopeo re-encodes the config (its timestamps lose their milliseconds): same layers and config
    const theirs = JSON.parse(ok(["image", "inspect", "localhost/bb:skopeo"], { root: other }))[0];
    const ours = JSON.parse(ok(["image", "inspect", "busybox"]))[0];
    assert.deepEqual(theirs.RootFS, ours.RootFS);
    assert.deepEqual(theirs.Config, ours.Config);
  });

  test("image prune and system prune remove dangling images and what only they used", () => {
    const src = path.join(dir, "dangling");
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, "only-here"), "x".repeat(100_000));
    const tarball = path.join(dir, "dangling.tar");
    assert.equal(spawnSync("tar", ["-C", src, "-cf", tarball, "."]).status, 0);
    const id = ok(["import", tarball]).trim();
    assert.match(ok(["images"]), /<none>\s+<none>/);
    const snapshots = () => readdirSync(path.join(root, "snapshots", "overlay")).filter((n) => /^[0-9a-f]{64}$/.test(n)).length;
    assert.equal(snapshots(), 2);
    // without -f and no terminal to say yes on, nothing happens
    const asked = berth(["image", "prune"], { input: "" });
    assert.equal(asked.code, 0);
    assert.match(asked.stdout, /Are you sure you want to continue\? \[y\/N\]/);
    assert.deepEqual(imageIds(), [busyboxId, id].sort());
    const out = ok(["image", "prune"], { input: "y\n" });
    assert.match(out, new RegExp(`deleted: ${id}`));
    assert.match(out, /Total reclaimed space: \d+(\.\d+)?kB/);
    assert.deepEqual(imageIds(), [busyboxId]);
    assert.equal(snapshots(), 1);
    assert.match(ok(["system", "prune", "-f"]), /Total reclaimed space: 0B/);
    assert.deepEqual(imageIds(), [busyboxId]);
  });

  describe("bad input: one line, non-zero, nothing left behind", () => {
    test("unknown images and bad names", () => {
      fails(["rmi", "nosuch"], /^berth: No such image: nosuch$/m);
      fails(["image", "inspect", "nosuch:1"], /No such image: nosuch:1/);
      fails(["tag", "busybox", "Bad/Name"], /invalid reference "Bad\/Name": repository name must be lowercase/);
      fails(["history", "nosuch"], /No such image/);
      fails(["save", "-o", path.join(dir, "never.tar"), "busybox", "nosuch"], /No such image: nosuch/);
      assert.equal(existsSync(path.join(dir, "never.tar")), false);
      fails(["save", "--format", "zip", "busybox"], /--format "zip": expected docker-archive or oci-archive/);
      assert.equal(berth(["images", "--bogus"]).code, 125);
      assert.deepEqual(imageIds(), [busyboxId]);
    });

    test("import of a bad --change, a missing file or not a tarball", () => {
      fails(["import", "-c", "FROM scratch", path.join(dir, "rootfs.tar")], /--change FROM: not an instruction --change takes/);
      fails(["import", path.join(dir, "missing.tar")], /import: .*missing\.tar: no such file/);
      writeFileSync(path.join(dir, "junk.tar"), "this is not a tar archive at all, just text".repeat(20));
      fails(["import", path.join(dir, "junk.tar"), "junk:1"], /invalid tar header/);
      assert.deepEqual(readdirSync(path.join(root, "image", "blobs", "sha256")).length, 3, "only busybox's manifest, config and layer");
      assert.deepEqual(imageIds(), [busyboxId]);
      assert.deepEqual(leftovers(), []);
    });

    test("load of garbage, a truncated archive, a tampered blob or a hostile layer", () => {
      fails(["load"], /not a valid tar archive|neither manifest\.json/, { input: "garbage".repeat(100) });
      const good = readFileSync(path.join(dir, "bb-oci-archive.tar"));
      fails(["load"], /load: /, { input: good.subarray(0, Math.floor(good.length / 2)) });
      // an oci-archive whose layer blob was changed after its digest was taken
      const x = path.join(dir, "tampered");
      mkdirSync(x);
      assert.equal(spawnSync("tar", ["-C", x, "-xf", path.join(dir, "bb-oci-archive.tar")]).status, 0);
      const index = JSON.parse(readFileSync(path.join(x, "index.json"), "utf8"));
      const manifest = JSON.parse(readFileSync(path.join(x, "blobs", index.manifests[0].digest.replace(":", "/")), "utf8"));
      const layerFile = path.join(x, "blobs", manifest.layers[0].digest.replace(":", "/"));
      const layer = readFileSync(layerFile);
      layer[layer.length - 100] ^= 0xff;
      writeFileSync(layerFile, layer);
      const tampered = path.join(dir, "tampered.tar");
      assert.equal(spawnSync("tar", ["-C", x, "-cf", tampered, "."]).status, 0);
      const other = path.join(dir, "tampered-root");
      const r = berth(["load", "-i", tampered], { root: other });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`${manifest.layers[0].digest}: (digest|size) mismatch`));
      assert.equal(ok(["images", "-q"], { root: other }), "");
      assert.deepEqual(leftovers(other), []);
      // a docker-archive whose layer climbs out of the root
      const h = path.join(dir, "hostile");
      mkdirSync(path.join(h, "layer"), { recursive: true });
      writeFileSync(path.join(dir, "escaped"), "");
      assert.equal(spawnSync("tar", ["-C", path.join(h, "layer"), "-cf", path.join(h, "layer.tar"), "--transform", "s,^,../../,", "-P", path.join(dir, "escaped")]).status, 0);
      rmSync(path.join(dir, "escaped"));
      const diffId = "sha256:" + spawnSync("sha256sum", [path.join(h, "layer.tar")], { encoding: "utf8" }).stdout.split(" ")[0];
      writeFileSync(path.join(h, "config.json"), JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [diffId] } }));
      writeFileSync(path.join(h, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: ["hostile:1"], Layers: ["layer.tar"] }]));
      const hostile = path.join(dir, "hostile.tar");
      assert.equal(spawnSync("tar", ["-C", h, "-cf", hostile, "manifest.json", "config.json", "layer.tar"]).status, 0);
      const hr = berth(["load", "-i", hostile], { root: other });
      assert.notEqual(hr.code, 0);
      assert.match(hr.stderr, /path escapes the root/);
      assert.equal(ok(["images", "-q"], { root: other }), "");
      assert.equal(existsSync(path.join(dir, "escaped")), false);
      const snaps = path.join(other, "snapshots", "overlay");
      assert.deepEqual(readdirSync(snaps).filter((n) => /^[0-9a-f]{64}$/.test(n)), []);
      assert.deepEqual(readdirSync(path.join(snaps, "tmp")), []);
    });
  });
});
