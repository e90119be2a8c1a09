// One test suite run against every snapshotter (overlay and copy): layers unpacked by chain ID,
// a container's writable snapshot mounted for real and looked at through the mount, its changes
// coming back out as a layer, and what remove and a failed or repeated unpack leave behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import tar from "tar-stream";
import { BerthError } from "../../src/errors.js";
import { openSnapshotter, overlaySupported, type Snapshotter, type SnapshotterKind } from "../../src/image/snapshot/index.js";
import { chainIds } from "../../src/oci/index.js";

const rootSkip = process.getuid?.() === 0 ? false : "needs root: mount, overlay whiteouts (mknod) and trusted.* xattrs";

interface Item {
  header: Partial<tar.Header> & { name: string };
  body?: string;
}
const T = new Date("2024-05-01T12:00:00Z");
const file = (name: string, body: string): Item => ({ header: { name, type: "file", mode: 0o644, mtime: T }, body });
const dir = (name: string): Item => ({ header: { name, type: "directory", mode: 0o755, mtime: T } });

async function layer(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const i of items) pack.entry(i.header, i.body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** The entries of a layer tar: name, and the body of regular files. */
async function entries(r: Readable): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => ex.on("finish", () => resolve()).on("error", reject));
  ex.on("entry", (h, s, next) => {
    const parts: Buffer[] = [];
    s.on("data", (c) => parts.push(c as Buffer));
    s.on("end", () => {
      out.push([h.name, h.type === "file" ? Buffer.concat(parts).toString() : h.type ?? ""]);
      next();
    });
  });
  r.pipe(ex);
  await done;
  return out;
}

const isError = (kind: string, message: string | RegExp) => (err: unknown) => {
  assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
  assert.equal(err.kind, kind);
  if (typeof message === "string") assert.equal(err.message, message);
  else assert.match(err.message, message);
  assert.ok(!err.message.includes("\n"), "one line");
  return true;
};

// base: a few files, a directory the child makes opaque and a file the child whites out
const BASE = [
  dir("etc/"),
  file("etc/hostname", "base"),
  file("etc/gone", "whited out by the child"),
  dir("opq/"),
  file("opq/old", "hidden by the opaque dir"),
  dir("opq/sub/"),
  file("opq/sub/deep", "hidden too"),
  file("keep", "keep"),
  file("doomed", "deleted through the mount"),
];
const CHILD = [dir("etc/"), file("etc/.wh.gone", ""), dir("opq/"), file("opq/.wh..wh..opq", ""), file("opq/new", "new"), file("child", "from the child layer")];

function suite(kind: SnapshotterKind) {
  describe(`${kind} snapshotter`, { skip: rootSkip || (kind === "overlay" && !overlaySupported() ? "the kernel has no overlay filesystem" : false) }, () => {
    let tmp: string;
    let n = 0;
    const mounts: string[] = [];
    let base: Buffer;
    let child: Buffer;
    let chain: string[];

    before(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), `berth-snap-${kind}-`));
      base = await layer(BASE);
      child = await layer(CHILD);
      chain = chainIds([sha(base), sha(child)]);
    });
    after(() => {
      for (const m of mounts.splice(0)) spawnSync("umount", ["-l", m]);
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** A snapshotter on a fresh data root. */
    const fresh = (): { s: Snapshotter; root: string } => {
      const data = path.join(tmp, `data-${n++}`);
      const s = openSnapshotter(data, kind);
      assert.equal(s.kind, kind);
      return { s, root: path.join(data, "snapshots", kind) };
    };
    const target = () => {
      const d = path.join(tmp, `mnt-${n++}`);
      fs.mkdirSync(d);
      return d;
    };
    const mount = (s: Snapshotter, key: string, at: string) => {
      s.mount(key, at);
      mounts.push(at);
    };
    const umount = (at: string) => {
      const r = spawnSync("umount", [at], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      mounts.splice(mounts.indexOf(at), 1);
    };
    const unpackChain = async (s: Snapshotter) => {
      const b = await s.unpack(chain[0]!, undefined, Readable.from([base]), sha(base));
      const c = await s.unpack(chain[1]!, chain[0], Readable.from([child]), sha(child));
      return [b, c] as const;
    };
    const ls = (d: string) => fs.readdirSync(d).sort();

    test("unpack, prepare, mount: the merged view of both layers", async () => {
      const { s } = fresh();
      const [b, c] = await unpackChain(s);
      assert.deepEqual([b.chainId, b.parent, b.diffId], [chain[0], undefined, sha(base)]);
      assert.deepEqual([c.chainId, c.parent, c.diffId], [chain[1], chain[0], sha(child)]);
      assert.ok(b.size > 0 && c.size > 0);
      assert.deepEqual(s.info(chain[1]!), c);
      assert.deepEqual(s.list().map((i) => i.chainId).sort(), [...chain].sort());
      assert.equal(s.has(chain[0]!), true);

      const snap = s.prepare("ctr-1", chain[1], { image: "sha256:img" });
      assert.deepEqual([snap.key, snap.parent, snap.labels], ["ctr-1", chain[1], { image: "sha256:img" }]);
      assert.deepEqual(s.active().map((a) => a.key), ["ctr-1"]);
      assert.throws(() => s.prepare("ctr-1", chain[1]), isError("AlreadyExists", "snapshot ctr-1 already exists"));

      const at = target();
      mount(s, "ctr-1", at);
      try {
        assert.deepEqual(ls(at), ["child", "doomed", "etc", "keep", "opq"]);
        assert.deepEqual(ls(path.join(at, "etc")), ["hostname"], "the whited-out file is absent");
        assert.deepEqual(ls(path.join(at, "opq")), ["new"], "the opaque dir hides its lower children");
        assert.equal(fs.readFileSync(path.join(at, "child"), "utf8"), "from the child layer");
        assert.equal(fs.readFileSync(path.join(at, "etc/hostname"), "utf8"), "base");
        assert.equal(fs.readFileSync(path.join(at, "opq/new"), "utf8"), "new");

        // changes through the mount
        fs.writeFileSync(path.join(at, "added"), "written in the container");
        fs.rmSync(path.join(at, "doomed"));
        fs.writeFileSync(path.join(at, "etc/hostname"), "changed");
        fs.rmSync(path.join(at, "opq/new"));
        assert.deepEqual(ls(at), ["added", "child", "etc", "keep", "opq"]);
        assert.throws(() => s.removeActive("ctr-1"), isError("FailedPrecondition", "snapshot ctr-1 is still mounted"));
      } finally {
        umount(at);
      }
      assert.deepEqual(ls(at), [], "nothing left on the mount point");

      // the committed snapshots were not touched by the container's writes
      const again = target();
      s.prepare("ctr-2", chain[1]);
      mount(s, "ctr-2", again);
      try {
        assert.deepEqual(ls(again), ["child", "doomed", "etc", "keep", "opq"]);
        assert.equal(fs.readFileSync(path.join(again, "etc/hostname"), "utf8"), "base");
      } finally {
        umount(again);
      }
      s.removeActive("ctr-2");

      // the changes come back out as a layer, the same entries from either snapshotter
      assert.deepEqual(await entries(s.diff("ctr-1")), [
        [".wh.doomed", ""],
        ["added", "written in the container"],
        ["etc/", "directory"],
        ["etc/hostname", "changed"],
        ["opq/", "directory"],
        ["opq/.wh.new", ""],
      ]);
      s.removeActive("ctr-1");
      assert.deepEqual(s.active(), []);
      s.removeActive("ctr-1"); // removing what is gone is fine
    });

    test("a diff applied as a new layer gives the container's view", async () => {
      const { s } = fresh();
      await unpackChain(s);
      s.prepare("build", chain[1]);
      const at = target();
      mount(s, "build", at);
      try {
        fs.mkdirSync(path.join(at, "app/bin"), { recursive: true });
        fs.writeFileSync(path.join(at, "app/bin/run"), "#!/bin/sh\n");
        fs.rmSync(path.join(at, "etc"), { recursive: true });
      } finally {
        umount(at);
      }
      const chunks: Buffer[] = [];
      for await (const c of s.diff("build")) chunks.push(c as Buffer);
      const diff = Buffer.concat(chunks);
      const [top] = chainIds([sha(base), sha(child), sha(diff)]).slice(2);
      await s.unpack(top!, chain[1], Readable.from([diff]), sha(diff));
      s.removeActive("build");
      s.prepare("run", top);
      const view = target();
      mount(s, "run", view);
      try {
        assert.deepEqual(ls(view), ["app", "child", "doomed", "keep", "opq"]);
        assert.equal(fs.readFileSync(path.join(view, "app/bin/run"), "utf8"), "#!/bin/sh\n");
      } finally {
        umount(view);
      }
      s.removeActive("run");
    });

    test("an active snapshot with no parent is an empty rootfs", async () => {
      const { s } = fresh();
      s.prepare("scratch", undefined);
      const at = target();
      mount(s, "scratch", at);
      try {
        assert.deepEqual(ls(at), []);
        fs.writeFileSync(path.join(at, "only"), "x");
      } finally {
        umount(at);
      }
      assert.deepEqual(await entries(s.diff("scratch")), [["only", "x"]]);
      s.removeActive("scratch");
      assert.throws(() => s.prepare("orphan", chain[0]), isError("NotFound", `snapshot ${chain[0]} does not exist`));
      assert.throws(() => s.prepare("../x", undefined), isError("InvalidArgument", `snapshot key "../x": expected letters, digits, '_', '-' and '.'`));
      assert.deepEqual(s.active(), []);
    });

    test("remove refuses a snapshot a child or a container builds on", async () => {
      const { s, root } = fresh();
      await unpackChain(s);
      s.prepare("ctr", chain[1]);
      assert.throws(() => s.remove(chain[1]!), isError("FailedPrecondition", `snapshot ${chain[1]} is in use by ctr`));
      assert.throws(() => s.remove(chain[0]!), isError("FailedPrecondition", `snapshot ${chain[0]} is the parent of ${chain[1]}`));
      assert.equal(s.list().length, 2);
      s.removeActive("ctr");
      s.remove(chain[1]!);
      s.remove(chain[0]!);
      s.remove(chain[0]!); // gone already: a no-op
      assert.deepEqual(s.list(), []);
      assert.deepEqual(ls(path.join(root, "tmp")), []);
      if (kind === "overlay") assert.deepEqual(ls(path.join(root, "l")), [], "the short links go with their snapshots");
    });

    test("unpacking the same chain twice, or at once, keeps one snapshot", async () => {
      const { s, root } = fresh();
      const [first] = await unpackChain(s);
      const again = await s.unpack(chain[0]!, undefined, Readable.from([base]), sha(base));
      assert.deepEqual([again.chainId, again.created], [first.chainId, first.created], "the snapshot that was there is kept");
      const racing = await Promise.all([1, 2, 3].map(() => s.unpack(chain[1]!, chain[0], Readable.from([child]), sha(child))));
      assert.equal(new Set(racing.map((r) => r.created)).size, 1);
      assert.equal(s.list().length, 2);
      assert.deepEqual(ls(path.join(root, "tmp")), []);
      if (kind === "overlay") assert.equal(ls(path.join(root, "l")).length, 2, "one short link per snapshot");
    });

    test("a failed unpack leaves nothing behind", async () => {
      const { s, root } = fresh();
      const leftovers = () => ({ tmp: ls(path.join(root, "tmp")), snapshots: s.list().map((i) => i.chainId), ...(kind === "overlay" ? { links: ls(path.join(root, "l")) } : {}) });
      const wrong = sha(Buffer.from("not this layer"));
      await assert.rejects(s.unpack(chain[0]!, undefined, Readable.from([base]), wrong), isError("InvalidArgument", `layer ${wrong}: diffID mismatch: got ${sha(base)}`));
      assert.deepEqual(leftovers(), { tmp: [], snapshots: [], ...(kind === "overlay" ? { links: [] } : {}) });
      assert.equal(s.has(chain[0]!), false);

      await s.unpack(chain[0]!, undefined, Readable.from([base]), sha(base));
      const before = leftovers();
      // a truncated tar, on a parent
      await assert.rejects(s.unpack(chain[1]!, chain[0], Readable.from([child.subarray(0, 700)]), sha(child)), isError("InvalidArgument", "layer: unexpected end of data"));
      // a layer that tries to escape its root
      const evil = await layer([file("../../escaped", "x")]);
      await assert.rejects(s.unpack(chain[1]!, chain[0], Readable.from([evil]), sha(evil)), isError("InvalidArgument", 'layer: entry "../../escaped": path escapes the root'));
      await assert.rejects(s.unpack(chain[1]!, chainIds([wrong])[0], Readable.from([child]), sha(child)), isError("NotFound", `snapshot ${wrong} does not exist`));
      await assert.rejects(s.unpack("sha256:nope", undefined, Readable.from([child]), sha(child)), isError("InvalidArgument", 'snapshot: chain ID "sha256:nope": expected sha256:<64 hex digits> or sha512:<128 hex digits>'));
      assert.deepEqual(leftovers(), before);
      assert.equal(s.has(chain[1]!), false);
    });

    if (kind === "overlay") {
      test("an image of 60 layers still mounts: short links keep the options under a page", async () => {
        const { s, root } = fresh();
        const layers = await Promise.all(Array.from({ length: 60 }, (_, i) => layer([dir("layers/"), file(`layers/${String(i).padStart(2, "0")}`, `layer ${i}`), file("top", `layer ${i}`)])));
        const ids = chainIds(layers.map(sha));
        for (let i = 0; i < layers.length; i++) await s.unpack(ids[i]!, ids[i - 1], Readable.from([layers[i]!]), sha(layers[i]!));
        // the absolute lowerdirs alone would not fit in one page
        assert.ok(ids.map((c) => path.join(root, c.slice(7), "fs")).join(":").length > 4096);
        s.prepare("tall", ids.at(-1));
        const at = target();
        mount(s, "tall", at);
        try {
          assert.equal(fs.readdirSync(path.join(at, "layers")).length, 60);
          assert.equal(fs.readFileSync(path.join(at, "layers/00"), "utf8"), "layer 0");
          assert.equal(fs.readFileSync(path.join(at, "top"), "utf8"), "layer 59", "the nearest layer wins");
        } finally {
          umount(at);
        }
        s.removeActive("tall");
      });
    }
  });
}

suite("overlay");
suite("copy");
