// Layers on a real file system: applyLayer (every entry type, whiteouts both ways, hostile
// tars, compression) and diffLayer/diffTrees, checked by reading the trees back, and by a real
// overlay mount of applied layers.
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
import { applyLayer, diffLayer, diffTrees, type ApplyOptions } from "../../src/image/layer/index.js";
import { lgetxattr, llistxattr } from "../../src/sys/index.js";

const rootSkip = process.getuid?.() === 0 ? false : "needs root: mknod, chown, trusted.* xattrs and overlay mounts";
const hasZstd = spawnSync("zstd", ["--version"]).status === 0;

interface Item {
  header: Partial<tar.Header> & { name: string };
  body?: string | Buffer;
}

const T = new Date("2024-05-01T12:00:00Z");
const file = (name: string, body: string | Buffer, h: Partial<tar.Header> = {}): Item => ({ header: { name, type: "file", mode: 0o644, mtime: T, ...h }, body });
const dir = (name: string, h: Partial<tar.Header> = {}): Item => ({ header: { name, type: "directory", mode: 0o755, mtime: T, ...h } });
const symlink = (name: string, linkname: string): Item => ({ header: { name, type: "symlink", linkname, mode: 0o777, mtime: T } });
const hardlink = (name: string, linkname: string): Item => ({ header: { name, type: "link", linkname, mode: 0o644, mtime: T } });

async function layer(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const i of items) pack.entry(i.header, i.body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Fed in small odd-sized chunks, so that every boundary case of the stream reader is crossed. */
const chunked = (b: Buffer, size = 777) => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));
const apply = (root: string, b: Buffer, opts?: ApplyOptions) => applyLayer(root, chunked(b), opts);
const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Everything a layer can say about each path below root. */
function tree(root: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const inodes = new Map<number, string>();
  const walk = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      const linkOf = st.isDirectory() ? undefined : inodes.get(st.ino);
      if (!st.isDirectory() && !linkOf) inodes.set(st.ino, r);
      out[r] = {
        mode: st.mode.toString(8),
        uid: st.uid,
        gid: st.gid,
        rdev: st.rdev,
        mtime: Math.floor(st.mtimeMs / 1000),
        ...(st.isFile() ? { size: st.size, content: sha(fs.readFileSync(p)) } : {}),
        ...(st.isSymbolicLink() ? { target: fs.readlinkSync(p) } : {}),
        xattrs: Object.fromEntries(llistxattr(p).sort().map((n) => [n, lgetxattr(p, n)!.toString("hex")])),
        ...(linkOf ? { linkOf } : {}),
      };
      if (st.isDirectory()) walk(p, r);
    }
  };
  walk(root, "");
  return out;
}

/** security.capability v2 granting cap_net_bind_service, effective (bytes below 0x80: tar-stream writes PAX as UTF-8) */
const CAP = Buffer.from([0x01, 0, 0, 0x02, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

describe("image layers", { skip: rootSkip }, () => {
  let tmp: string;
  let n = 0;
  const mounts: string[] = [];
  /** a fresh empty directory */
  const fresh = (name = "d") => {
    const d = path.join(tmp, `${name}-${n++}`);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "berth-layer-"));
  });
  after(() => {
    for (const m of mounts) spawnSync("umount", ["-l", m]);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const everyType = () =>
    layer([
      dir("bin/"),
      file("bin/tool", "#!/bin/sh\necho tool\n", { mode: 0o4755, pax: { "SCHILY.xattr.security.capability": CAP.toString("latin1") } }),
      hardlink("bin/tool2", "bin/tool"),
      dir("data/", { mode: 0o1777, uid: 1234, gid: 1234 }),
      file("data/file", "hello", { mode: 0o640, uid: 1234, gid: 5678, pax: { "SCHILY.xattr.user.note": "hi" } }),
      { header: { name: "data/link", type: "symlink", linkname: "../bin/tool", uid: 1234, gid: 1234, mtime: T } },
      dir("dev/"),
      { header: { name: "dev/fifo", type: "fifo", mode: 0o644, mtime: T } },
      { header: { name: "dev/loop9", type: "block-device", devmajor: 7, devminor: 9, mode: 0o660, gid: 6, mtime: T } },
      { header: { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666, mtime: T } },
      dir("opq/"),
      file("opq/.wh..wh..opq", ""),
      file("opq/kept", "kept"),
      dir("setgid/", { mode: 0o2755, gid: 50 }),
      file(`long/${"n".repeat(120)}/${"f".repeat(110)}`, "long name"),
      dir("wh/"),
      file("wh/.wh.gone", ""),
    ]);

  test("every entry type survives apply → diffLayer → apply", async () => {
    const input = await everyType();
    const a = fresh("a");
    const got = await apply(a, input);
    // unpacked: the regular files' bytes (not the hardlink's again, not the whiteouts)
    const unpacked = ["#!/bin/sh\necho tool\n", "hello", "kept", "long name"].reduce((n, t) => n + t.length, 0);
    assert.deepEqual(got, { diffId: sha(input), digest: sha(input), size: input.length, unpacked });

    const st = (p: string) => fs.lstatSync(path.join(a, p));
    assert.equal(fs.readFileSync(path.join(a, "bin/tool"), "utf8"), "#!/bin/sh\necho tool\n");
    assert.equal(st("bin/tool").mode & 0o7777, 0o4755, "setuid kept after chown");
    assert.deepEqual(lgetxattr(path.join(a, "bin/tool"), "security.capability"), CAP);
    assert.equal(st("bin/tool2").ino, st("bin/tool").ino, "hardlink");
    assert.equal(st("data").mode & 0o7777, 0o1777);
    assert.deepEqual([st("data/file").uid, st("data/file").gid, st("data/file").mode & 0o7777], [1234, 5678, 0o640]);
    assert.equal(fs.readlinkSync(path.join(a, "data/link")), "../bin/tool");
    assert.equal(st("data/link").uid, 1234);
    assert.ok(st("dev/null").isCharacterDevice() && st("dev/null").rdev === 0x103);
    assert.ok(st("dev/loop9").isBlockDevice() && st("dev/loop9").rdev === 0x709 && st("dev/loop9").gid === 6);
    assert.ok(st("dev/fifo").isFIFO());
    assert.equal(st("setgid").mode & 0o7777, 0o2755);
    assert.equal(st("bin").mtimeMs, T.getTime(), "a directory's mtime is set after its content");
    assert.equal(st("wh/gone").isCharacterDevice() && st("wh/gone").rdev, 0, "whiteout device");
    assert.equal(lgetxattr(path.join(a, "opq"), "trusted.overlay.opaque")?.toString(), "y");
    assert.ok(!fs.existsSync(path.join(a, "opq/.wh..wh..opq")));
    assert.equal(fs.readFileSync(path.join(a, `long/${"n".repeat(120)}/${"f".repeat(110)}`), "utf8"), "long name");

    const diffA = await collect(diffLayer(a));
    const b = fresh("b");
    const gotB = await apply(b, diffA);
    assert.equal(gotB.diffId, sha(diffA));
    assert.deepEqual(tree(b), tree(a));
    const diffB = await collect(diffLayer(b));
    assert.equal(sha(diffB), sha(diffA), "the same tree gives the same diffID");
  });

  test("whiteouts in overlay mode, and in remove mode over lower files", async () => {
    const l2 = await layer([file(".wh.x", ""), dir("o/"), file("o/new", "new"), file("o/.wh..wh..opq", ""), file(".wh.tree", "")]);
    const over = fresh("over");
    await apply(over, l2);
    assert.ok(fs.lstatSync(path.join(over, "x")).isCharacterDevice());
    assert.equal(fs.lstatSync(path.join(over, "x")).rdev, 0);
    assert.equal(lgetxattr(path.join(over, "o"), "trusted.overlay.opaque")?.toString(), "y");
    assert.deepEqual(fs.readdirSync(over).sort(), ["o", "tree", "x"]);

    const copy = fresh("copy");
    await apply(copy, await layer([file("x", "x"), file("y", "y"), dir("tree/"), file("tree/deep/f", "f"), dir("o/"), file("o/old", "old"), file("o/sub/old2", "old2")]), { whiteouts: "remove" });
    await apply(copy, l2, { whiteouts: "remove" });
    assert.deepEqual(fs.readdirSync(copy).sort(), ["o", "y"]);
    assert.deepEqual(fs.readdirSync(path.join(copy, "o")), ["new"], "opaque: lower children gone, this layer's kept (whatever the order)");
    assert.equal(lgetxattr(path.join(copy, "o"), "trusted.overlay.opaque"), undefined);

    // a whiteout hides lower layers only: this layer's own file with the same name stays
    const own = fresh("own");
    await apply(own, await layer([file("z", "mine"), file(".wh.z", "")]), { whiteouts: "remove" });
    await apply(own, await layer([file("z", "mine"), file(".wh.z", "")]));
    assert.equal(fs.readFileSync(path.join(own, "z"), "utf8"), "mine");
  });

  test("a real overlay mount of applied layers, and diffLayer of its upper", async (t) => {
    const lower = fresh("lower");
    const upper = fresh("upper");
    const work = fresh("work");
    const merged = fresh("merged");
    await apply(lower, await layer([file("keep", "keep"), file("x", "x"), dir("d/"), file("d/old", "old"), file("d/sub/old2", "old2")]));
    await apply(upper, await layer([file(".wh.x", ""), dir("d/"), file("d/.wh..wh..opq", ""), file("d/new", "new")]));
    const r = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged], { encoding: "utf8" });
    if (r.status !== 0) return t.skip(`overlay mount failed: ${r.stderr.trim()}`);
    mounts.push(merged);
    try {
      assert.deepEqual(fs.readdirSync(merged).sort(), ["d", "keep"]);
      assert.deepEqual(fs.readdirSync(path.join(merged, "d")), ["new"]);
      // changes made through the mount come back out as an OCI layer
      fs.rmSync(path.join(merged, "keep"));
      fs.writeFileSync(path.join(merged, "added"), "added");
      fs.mkdirSync(path.join(merged, "fresh"));
    } finally {
      assert.equal(spawnSync("umount", [merged]).status, 0);
      mounts.splice(mounts.indexOf(merged), 1);
    }
    const names: string[] = [];
    const ex = tar.extract();
    ex.on("entry", (h, s, next) => {
      names.push(h.name);
      s.resume();
      s.on("end", next);
    });
    await new Promise<void>((res, rej) => diffLayer(upper).pipe(ex).on("finish", () => res()).on("error", rej));
    assert.deepEqual(names, [".wh.keep", ".wh.x", "added", "d/", "d/.wh..wh..opq", "d/new", "fresh/"]);
  });

  test("diffTrees: a copied tree's changes, applied to another copy, give the same tree", async () => {
    const lower = fresh("tl");
    await apply(
      lower,
      await layer([dir("etc/"), file("etc/conf", "v1"), file("etc/gone", "g"), dir("var/"), file("var/log/old", "o"), file("keep", "k"), file("mode", "m")]),
      { whiteouts: "remove" },
    );
    const upper = path.join(tmp, `tu-${n++}`);
    const copy = path.join(tmp, `tc-${n++}`);
    assert.equal(spawnSync("cp", ["-a", lower, upper]).status, 0);
    assert.equal(spawnSync("cp", ["-a", lower, copy]).status, 0);
    fs.writeFileSync(path.join(upper, "etc/conf"), "version 2");
    fs.rmSync(path.join(upper, "etc/gone"));
    fs.rmSync(path.join(upper, "var/log"), { recursive: true });
    fs.chmodSync(path.join(upper, "mode"), 0o600);
    fs.mkdirSync(path.join(upper, "new/dir"), { recursive: true });
    fs.writeFileSync(path.join(upper, "new/dir/f"), "f");
    fs.symlinkSync("etc/conf", path.join(upper, "conf-link"));
    const diff = await collect(diffTrees(lower, upper));
    await apply(copy, diff, { whiteouts: "remove" });
    assert.deepEqual(tree(copy), tree(upper));
  });

  test("gzip, zstd and plain inputs give the same diffID; digest and size are of the bytes given", async (t) => {
    const plain = await layer([file("a", randomBytes(200_000).toString("hex")), dir("b/"), file("b/c", "c")]);
    const gz = zlib.gzipSync(plain);
    const inputs: [string, Buffer][] = [["plain", plain], ["gzip", gz]];
    if (hasZstd) inputs.push(["zstd", spawnSync("zstd", ["-q", "-c"], { input: plain, maxBuffer: 1 << 26 }).stdout]);
    else t.diagnostic("zstd CLI not installed: zstd input untested");
    for (const [kind, bytes] of inputs) {
      const d = fresh(kind);
      const got = await apply(d, bytes, { expectedDiffId: sha(plain), expectedDigest: sha(bytes) });
      assert.deepEqual(got, { diffId: sha(plain), digest: sha(bytes), size: bytes.length, unpacked: 400_001 }, kind);
      assert.equal(fs.readFileSync(path.join(d, "b/c"), "utf8"), "c");
      assert.equal(fs.statSync(path.join(d, "a")).size, 400_000);
    }
  });

  test("large files (written on the thread pool while the next entries are made) get their bytes, owner, mode, capability and mtime", async () => {
    const big = (seed: number, size: number) => Buffer.alloc(size, seed).fill(randomBytes(4096), 0, 4096);
    const A = big(1, 3_500_000); // several 1 MiB writes
    const B = big(2, 600_000);
    const C = big(3, 300_000);
    const input = await layer([
      dir("usr/"),
      file("usr/capped", A, { mode: 0o4755, uid: 1234, gid: 5678, pax: { "SCHILY.xattr.security.capability": CAP.toString("latin1") } }),
      file("usr/plain", B, { mode: 0o600, uid: 42, gid: 43 }),
      hardlink("usr/plain-link", "usr/plain"),
      file("usr/again", B),
      file("usr/again", C, { mode: 0o640 }), // the same name later in the layer: the last one wins
      file("usr/small", "small"),
    ]);
    for (const [kind, bytes] of [["plain", input], ["gzip", zlib.gzipSync(input)]] as const) {
      const d = fresh(`large-${kind}`);
      const got = await applyLayer(d, Readable.from([bytes]), { expectedDiffId: sha(input) });
      assert.equal(got.unpacked, A.length + 2 * B.length + C.length + 5, kind);
      const st = (p: string) => fs.lstatSync(path.join(d, p));
      assert.ok(fs.readFileSync(path.join(d, "usr/capped")).equals(A), `${kind}: capped's bytes`);
      assert.deepEqual([st("usr/capped").uid, st("usr/capped").gid, st("usr/capped").mode & 0o7777], [1234, 5678, 0o4755], kind);
      assert.deepEqual(lgetxattr(path.join(d, "usr/capped"), "security.capability"), CAP, `${kind}: the capability outlives the writes`);
      assert.ok(fs.readFileSync(path.join(d, "usr/plain")).equals(B), `${kind}: plain's bytes`);
      assert.deepEqual([st("usr/plain").uid, st("usr/plain").gid, st("usr/plain").mode & 0o7777], [42, 43, 0o600], kind);
      assert.equal(st("usr/plain-link").ino, st("usr/plain").ino, `${kind}: hardlink`);
      assert.ok(fs.readFileSync(path.join(d, "usr/again")).equals(C), `${kind}: the later entry's bytes`);
      assert.equal(st("usr/again").mode & 0o7777, 0o640, kind);
      for (const p of ["usr/capped", "usr/plain", "usr/again", "usr"]) assert.equal(st(p).mtimeMs, T.getTime(), `${kind}: ${p}'s mtime`);
    }
    // a bad entry after a large file: refused, and the large file's writes are over by then
    const d = fresh("large-bad");
    const bad = await layer([file("big", A), file("../escape", "x")]);
    await assert.rejects(applyLayer(d, Readable.from([bad])), { message: 'layer: entry "../escape": path escapes the root' });
    assert.equal(fs.statSync(path.join(d, "big")).size, A.length);
  });

  describe("hostile layers are refused and write nothing outside the root", () => {
    let base: string;
    let root: string;
    let outside: () => string[];
    before(() => {
      base = fresh("hostile");
      fs.mkdirSync(path.join(base, "sentinel"));
      fs.writeFileSync(path.join(base, "sentinel/file"), "untouched");
      outside = () => {
        const list: string[] = [];
        const walk = (d: string) => {
          for (const e of fs.readdirSync(d)) {
            const p = path.join(d, e);
            if (p.startsWith(path.join(base, "a/b/"))) continue;
            const st = fs.lstatSync(p);
            list.push(`${p} ${st.mode} ${st.size} ${st.mtimeMs}`);
            if (st.isDirectory()) walk(p);
          }
        };
        walk(path.dirname(base));
        return list.sort();
      };
    });

    /** applies the layers to a fresh root at base/a/b/root-N; the last one must fail with `error` */
    async function refused(items: Item[][], error: RegExp, opts?: ApplyOptions) {
      root = path.join(base, "a/b", `root-${n++}`);
      fs.mkdirSync(root, { recursive: true });
      const before = outside();
      for (const [i, l] of items.entries()) {
        const input = chunked(await layer(l));
        const p = applyLayer(root, input, opts);
        if (i < items.length - 1) await p;
        else
          await assert.rejects(p, (e: unknown) => {
            assert.ok(e instanceof BerthError, String(e));
            assert.match(e.message, error);
            assert.equal(e.message.split("\n").length, 1);
            return true;
          });
        assert.ok(input.destroyed, "the input stream is not left open");
      }
      assert.deepEqual(outside(), before, "nothing changed outside the root");
      assert.equal(fs.readFileSync(path.join(base, "sentinel/file"), "utf8"), "untouched");
    }

    async function contained(items: Item[][], lands: string, opts: ApplyOptions = { whiteouts: "remove" }) {
      root = path.join(base, "a/b", `root-${n++}`);
      fs.mkdirSync(root, { recursive: true });
      const before = outside();
      for (const l of items) await apply(root, await layer(l), opts);
      assert.deepEqual(outside(), before, "nothing changed outside the root");
      assert.equal(fs.readFileSync(path.join(root, lands), "utf8"), "pwned", `landed at root/${lands}`);
    }

    test("../ names", async () => {
      await refused([[file("../../escape", "x")]], /^layer: entry "\.\.\/\.\.\/escape": path escapes the root$/);
      await refused([[file("/abs/../../escape", "x")]], /entry "\/abs\/\.\.\/\.\.\/escape": path escapes the root/);
      await refused([[file("ok/../../escape", "x")]], /path escapes the root/);
    });

    test("absolute names stay inside", async () => {
      await contained([[file("/etc/x", "pwned")]], "etc/x");
    });

    test("symlinks in the path resolve inside the root", async () => {
      const name = `pwned-${randomBytes(4).toString("hex")}`;
      await refused([[symlink("etc", "/etc"), file(`etc/${name}`, "pwned")]], /entry "etc\/pwned-\w+": too many levels of symbolic links/);
      assert.ok(!fs.existsSync(`/etc/${name}`));
      await contained([[symlink("up", "../../.."), file("up/escape", "pwned")]], "escape");
      const sentinel = path.join(base, "sentinel");
      await contained([[symlink("evil", sentinel)], [file("evil/pwned", "pwned")]], path.join(sentinel, "pwned"));
      await contained([[symlink("evil", "../../../sentinel")], [file("evil/pwned", "pwned")]], "sentinel/pwned");
      await contained([[symlink("evil", sentinel)], [dir("evil/"), file("evil/pwned", "pwned")]], "evil/pwned", { whiteouts: "overlay" });
    });

    test("a symlink is replaced, never written through", async () => {
      const target = path.join(base, "sentinel/file");
      await contained([[symlink("f", target)], [file("f", "pwned")]], "f");
      assert.ok(fs.lstatSync(path.join(root, "f")).isFile());
    });

    test("hardlinks to outside or missing targets", async () => {
      await refused([[hardlink("h", "/etc/shadow")]], /entry "h": hardlink target "\/etc\/shadow" does not exist/);
      await refused([[hardlink("h", "../../sentinel/file")]], /entry "h": path escapes the root/);
      await refused([[symlink("s", "/etc"), hardlink("h", "s/shadow")]], /hardlink target "s\/shadow" does not exist/);
      await refused([[dir("d/"), hardlink("h", "d")]], /hardlink target "d" is a directory/);
    });

    test("bad whiteouts and names", async () => {
      await refused([[file(".wh..", "")]], /entry "\.wh\.\.": not a valid whiteout/, { whiteouts: "remove" });
      await refused([[file("a/.wh...", "")]], /not a valid whiteout/);
      await refused([[file("x", "x", { pax: { path: "a\0b" } })]], /name contains a NUL byte/);
    });

    test("truncated and corrupt streams", async () => {
      const plain = await layer([file("big", randomBytes(100_000).toString("hex"))]);
      const gz = zlib.gzipSync(plain);
      root = fresh("trunc");
      const bads = [gz.subarray(0, gz.length >> 1), plain.subarray(0, 50_000), plain.subarray(0, 300)];
      if (hasZstd) bads.push(spawnSync("zstd", ["-q", "-c"], { input: plain }).stdout.subarray(0, 5000));
      for (const bad of bads) {
        await assert.rejects(apply(root, bad), { message: "layer: unexpected end of data" });
      }
      const corrupt = Buffer.from(gz);
      corrupt.fill(0xaa, 100, 200); // found by zlib, or by the tar reader when the garbage inflates
      await assert.rejects(apply(root, corrupt), /^BerthError: layer: (gzip: .+|unexpected end of data|invalid tar header at offset \d+)$/);
      const badCrc = Buffer.from(gz);
      badCrc[badCrc.length - 8] ^= 0xff;
      await assert.rejects(apply(root, badCrc), { message: "layer: gzip: incorrect data check" });
      const garbage = Buffer.from(plain);
      garbage.fill(0x41, 0, 512);
      await assert.rejects(apply(root, garbage), { message: "layer: invalid tar header at offset 0" });
      await assert.rejects(apply(root, Buffer.from("BZh91AY&SY")), /bzip2 and xz compression are not supported/);
      assert.equal((await apply(fresh("empty"), Buffer.alloc(0))).diffId, sha(Buffer.alloc(0)), "an empty layer");
    });

    test("a diffID mismatch", async () => {
      const bytes = await layer([file("a", "a")]);
      const want = `sha256:${"0".repeat(64)}`;
      await assert.rejects(apply(fresh("mismatch"), zlib.gzipSync(bytes), { expectedDiffId: want }), {
        kind: "InvalidArgument",
        message: `layer ${want}: diffID mismatch: got ${sha(bytes)}`,
      });
    });
  });
});
