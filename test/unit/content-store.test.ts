// The content store on a temp dir: verified one-shot and streamed writes (sha256 and sha512),
// resumable ingests with their locks (live, dead and reused-pid owners), several processes
// writing the same and different blobs at once, and the clean-up of what crashed writers leave.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { BerthError } from "../../src/errors.js";
import { ContentStore } from "../../src/image/content/index.js";

const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const sha512 = (b: Buffer | string) => `sha512:${createHash("sha512").update(b).digest("hex")}`;
const STORE_JS = fileURLToPath(new URL("../../src/image/content/store.js", import.meta.url));

/** Every file (not directory) below dir, relative; [] when dir does not exist. */
function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => !fs.statSync(path.join(dir, f)).isDirectory()).sort();
}

/** Asserts a one-line BerthError of `kind` with exactly `message`. */
function isError(kind: string, message: string | RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.ok(!err.message.includes("\n"), "one line");
    return true;
  };
}

const chunks = (b: Buffer, size = 1000) => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));

/** A pid that no process has: one that just exited. */
function deadPid(): number {
  const r = spawnSync("true");
  assert.equal(r.status, 0);
  return r.pid!;
}

/** Where openIngest keeps the ingest named `ref`. */
const ingestDir = (root: string, ref: string) => path.join(root, "ingest", createHash("sha256").update(ref).digest("hex"));

describe("content store", () => {
  let tmp: string;
  let n = 0;
  const fresh = () => {
    const root = path.join(tmp, `store-${n++}`);
    return { root, store: new ContentStore(root) };
  };

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "berth-content-"));
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("writeBlob and writeStream store verified blobs at blobs/<alg>/<hex>", async () => {
    const { root, store } = fresh();
    const a = Buffer.from("hello, blobs");
    assert.deepEqual(store.writeBlob(a, { digest: sha256(a), size: a.length }), { digest: sha256(a), size: a.length });
    assert.equal(store.path(sha256(a)), path.join(root, "blobs", "sha256", sha256(a).slice(7)));
    assert.deepEqual(store.read(sha256(a)), a);
    assert.equal(store.size(sha256(a)), a.length);

    const b = Buffer.alloc(300_000, "streamed ");
    assert.deepEqual(await store.writeStream(chunks(b, 7777), { digest: sha256(b), size: b.length }), { digest: sha256(b), size: b.length });
    assert.deepEqual(await store.writeStream(chunks(Buffer.from("no expectations"))), { digest: sha256("no expectations"), size: 15 });
    assert.deepEqual(store.read(sha256(b)), b);
    assert.deepEqual(
      store.list().sort((x, y) => x.digest.localeCompare(y.digest)),
      [
        { digest: sha256(a), size: a.length },
        { digest: sha256(b), size: b.length },
        { digest: sha256("no expectations"), size: 15 },
      ].sort((x, y) => x.digest.localeCompare(y.digest)),
    );
    assert.deepEqual(files(path.join(root, "ingest")), [], "no temp files left");
    assert.equal(store.delete(sha256(a)), true);
    assert.equal(store.delete(sha256(a)), false);
    assert.throws(() => store.read(sha256(a)), isError("NotFound", `blob ${sha256(a)}: not in the content store`));
    assert.throws(() => store.createReadStream(sha256(a)), isError("NotFound", `blob ${sha256(a)}: not in the content store`));
  });

  test("a digest or size mismatch throws a one-line error naming the blob and leaves no file", async () => {
    const { root, store } = fresh();
    const data = Buffer.from("the real bytes");
    const other = sha256("other bytes");
    const left = () => [...files(path.join(root, "blobs")), ...files(path.join(root, "ingest"))];

    assert.throws(() => store.writeBlob(data, { digest: other }), isError("InvalidArgument", `blob ${other}: digest mismatch: got ${sha256(data)}`));
    assert.throws(() => store.writeBlob(data, { digest: sha256(data), size: 3 }), isError("InvalidArgument", `blob ${sha256(data)}: size mismatch: expected 3 bytes, got ${data.length}`));
    assert.throws(() => store.writeBlob(data, { size: 99 }), isError("InvalidArgument", `blob ${sha256(data)}: size mismatch: expected 99 bytes, got ${data.length}`));
    assert.throws(() => store.writeBlob(data, { digest: "sha256:abc" }), isError("InvalidArgument", 'blob: expected sha256:<64 lowercase hex digits>, got "sha256:abc"'));
    assert.throws(() => store.writeBlob(data, { size: -1 }), isError("InvalidArgument", "blob: expected size must be a non-negative integer, got -1"));
    await assert.rejects(store.writeStream(chunks(data, 4), { digest: other }), isError("InvalidArgument", `blob ${other}: digest mismatch: got ${sha256(data)}`));
    await assert.rejects(store.writeStream(chunks(data, 4), { digest: sha256(data), size: 100 }), isError("InvalidArgument", `blob ${sha256(data)}: size mismatch: expected 100 bytes, got ${data.length}`));
    // a source that fails half-way leaves nothing either
    const failing = new Readable({
      read() {
        this.push(Buffer.from("part"));
        this.destroy(new Error("connection reset"));
      },
    });
    await assert.rejects(store.writeStream(failing, { digest: sha256(data) }), /connection reset/);
    assert.deepEqual(left(), []);
    assert.equal(store.has(other), false);
    assert.equal(store.has(sha256(data)), false);
  });

  test("storing a blob that exists is a no-op", async () => {
    const { root, store } = fresh();
    const data = Buffer.from("stored once");
    store.writeBlob(data);
    const file = store.path(sha256(data));
    const before = fs.statSync(file);
    assert.deepEqual(store.writeBlob(data, { digest: sha256(data) }), { digest: sha256(data), size: data.length });
    assert.deepEqual(await store.writeStream(chunks(data, 3), { digest: sha256(data), size: data.length }), { digest: sha256(data), size: data.length });
    const now = fs.statSync(file);
    assert.equal(now.ino, before.ino, "the blob was not rewritten");
    assert.equal(now.mtimeMs, before.mtimeMs);
    assert.equal(store.list().length, 1);
    assert.deepEqual(files(path.join(root, "ingest")), []);
    // a known blob is still checked: wrong bytes under its digest are refused
    await assert.rejects(store.writeStream(chunks(Buffer.from("stored twice")), { digest: sha256(data) }), isError("InvalidArgument", `blob ${sha256(data)}: digest mismatch: got ${sha256("stored twice")}`));
    assert.deepEqual(store.read(sha256(data)), data);
  });

  test("sha512 digests work for writes, reads, listing and ingests", async () => {
    const { root, store } = fresh();
    const a = Buffer.from("sha512 bytes");
    const b = Buffer.alloc(50_000, "more sha512 bytes ");
    assert.deepEqual(store.writeBlob(a, { digest: sha512(a) }), { digest: sha512(a), size: a.length });
    assert.ok(fs.existsSync(path.join(root, "blobs", "sha512", sha512(a).slice(7))));
    assert.deepEqual(await store.writeStream(chunks(b), { digest: sha512(b), size: b.length }), { digest: sha512(b), size: b.length });
    const c = Buffer.from("ingested with sha512");
    const ing = store.openIngest("sha512 ingest", { digest: sha512(c), size: c.length });
    ing.append(c);
    assert.deepEqual(ing.commit(), { digest: sha512(c), size: c.length });
    assert.deepEqual(store.read(sha512(c)), c);
    assert.deepEqual(store.list().map((x) => x.digest).sort(), [sha512(a), sha512(b), sha512(c)].sort());
    assert.equal(store.has(sha256(a)), false, "the same bytes under sha256 are another blob");
    assert.throws(() => store.writeBlob(a, { digest: sha512(b) }), isError("InvalidArgument", `blob ${sha512(b)}: digest mismatch: got ${sha512(a)}`));
  });

  test("an over-long stream is stopped at the first chunk past the expected size", async () => {
    const { root, store } = fresh();
    let pulled = 0;
    // endless: without the size check this would fill the disk
    const endless = new Readable({
      highWaterMark: 1000,
      read() {
        pulled++;
        this.push(Buffer.alloc(1000, "x"));
      },
    });
    const digest = sha256("whatever was announced");
    await assert.rejects(store.writeStream(endless, { digest, size: 2500 }), isError("InvalidArgument", `blob ${digest}: size mismatch: expected 2500 bytes, got more than 2500`));
    // the third chunk crosses 2500 bytes; the stream may have read one chunk ahead, no more
    assert.ok(pulled >= 3 && pulled <= 4, `pulled ${pulled} chunks`);
    assert.ok(endless.destroyed, "the source is stopped");
    assert.deepEqual([...files(path.join(root, "blobs")), ...files(path.join(root, "ingest"))], []);

    // and a resumable ingest refuses the byte past its size, dropping the partial data
    const ing = store.openIngest("too long", { digest, size: 5 });
    ing.append(Buffer.from("1234"));
    assert.throws(() => ing.append(Buffer.from("56")), isError("InvalidArgument", `blob ${digest}: size mismatch: expected 5 bytes, got more than 5`));
    assert.throws(() => ing.append(Buffer.from("5")), isError("FailedPrecondition", 'ingest "too long": already committed, aborted or closed'));
    assert.equal(fs.existsSync(ingestDir(root, "too long")), false);
  });

  describe("resumable ingests", () => {
    const data = Buffer.alloc(200_000, "resumable ");
    const digest = sha256(data);

    test("open, append part, close; reopen resumes at the offset; append the rest; commit", () => {
      const { root, store } = fresh();
      const ref = "pull docker.io/library/busybox layer";
      const first = store.openIngest(ref, { digest, size: data.length });
      assert.equal(first.offset, 0);
      first.append(data.subarray(0, 50_000));
      first.append(data.subarray(50_000, 70_000));
      assert.equal(first.offset, 70_000);
      first.close();
      assert.throws(() => first.append(Buffer.from("x")), isError("FailedPrecondition", `ingest ${JSON.stringify(ref)}: already committed, aborted or closed`));
      assert.equal(store.has(digest), false, "nothing in blobs/ before commit");

      const second = store.openIngest(ref, { digest, size: data.length });
      assert.equal(second.offset, 70_000);
      second.append(data.subarray(second.offset));
      assert.deepEqual(second.commit(), { digest, size: data.length });
      assert.deepEqual(store.read(digest), data);
      assert.deepEqual(files(path.join(root, "ingest")), []);
      assert.equal(fs.existsSync(ingestDir(root, ref)), false, "the ingest directory is gone");
      // a fresh ingest of the same ref starts at zero
      const again = store.openIngest(ref, { digest, size: data.length });
      assert.equal(again.offset, 0);
      again.abort();
      assert.equal(fs.existsSync(ingestDir(root, ref)), false);
    });

    test("a reopen for a different blob (or size) starts over", () => {
      const { store } = fresh();
      const ref = "same ref, other blob";
      const a = store.openIngest(ref, { digest, size: data.length });
      a.append(data.subarray(0, 1000));
      a.close();
      const other = Buffer.from("another blob entirely");
      const b = store.openIngest(ref, { digest: sha256(other) });
      assert.equal(b.offset, 0);
      b.append(other);
      assert.deepEqual(b.commit(), { digest: sha256(other), size: other.length });

      const c = store.openIngest(ref, { digest, size: data.length });
      c.append(data.subarray(0, 1000));
      c.close();
      const d = store.openIngest(ref, { digest, size: data.length + 1 });
      assert.equal(d.offset, 0, "another expected size is another ingest");
      d.abort();
    });

    test("a commit of wrong bytes fails, names the blob and leaves nothing", () => {
      const { root, store } = fresh();
      const ing = store.openIngest("wrong", { digest, size: data.length });
      ing.append(Buffer.alloc(data.length, "Z"));
      assert.throws(() => ing.commit(), isError("InvalidArgument", `blob ${digest}: digest mismatch: got ${sha256(Buffer.alloc(data.length, "Z"))}`));
      assert.equal(store.has(digest), false);
      assert.deepEqual(files(path.join(root, "ingest")), []);
      const short = store.openIngest("short", { digest, size: data.length });
      short.append(data.subarray(0, 10));
      assert.throws(() => short.commit(), isError("InvalidArgument", `blob ${digest}: size mismatch: expected ${data.length} bytes, got 10`));
      assert.deepEqual(files(path.join(root, "ingest")), []);
    });

    test("a second opener while the first holds it gets an in-use error", () => {
      const { store } = fresh();
      const ref = "held";
      const first = store.openIngest(ref, { digest, size: data.length });
      first.append(data.subarray(0, 10));
      assert.throws(() => store.openIngest(ref, { digest, size: data.length }), isError("FailedPrecondition", `ingest "held": in use by process ${process.pid}`));
      first.append(data.subarray(10, 20));
      first.close();
      const second = store.openIngest(ref, { digest, size: data.length });
      assert.equal(second.offset, 20, "the refused opener changed nothing");
      second.abort();
    });

    test("an in-use error also comes from another process holding it", async () => {
      const { root, store } = fresh();
      const ref = "held elsewhere";
      const script = `
        import { ContentStore } from ${JSON.stringify(STORE_JS)};
        const ing = new ContentStore(process.argv[1]).openIngest(process.argv[2], { digest: process.argv[3] });
        ing.append(Buffer.from("partial"));
        process.stdout.write("held\\n");
        process.stdin.once("data", () => { ing.close(); process.exit(0); });
      `;
      const child = spawn(process.execPath, ["--input-type=module", "-e", script, root, ref, digest], { stdio: ["pipe", "pipe", "inherit"] });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.once("data", () => resolve());
          child.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
        });
        assert.throws(() => store.openIngest(ref, { digest }), isError("FailedPrecondition", `ingest ${JSON.stringify(ref)}: in use by process ${child.pid}`));
        child.stdin.write("go\n");
        assert.equal(await new Promise((resolve) => child.once("exit", resolve)), 0);
        const mine = store.openIngest(ref, { digest });
        assert.equal(mine.offset, "partial".length);
        mine.abort();
      } finally {
        child.kill();
      }
    });

    test("a lock left by a dead process, or by a pid that was reused, is taken over", () => {
      const { root, store } = fresh();
      for (const [ref, holder] of [
        ["dead owner", String(deadPid())],
        ["dead owner with start time", `${deadPid()} 12345`],
        // our own pid, but another start time: the process that wrote it is gone and the pid was reused
        ["reused pid", `${process.pid} 1`],
      ] as const) {
        // what a writer that crashed leaves: partial data, its ref.json, its lock
        const crashed = store.openIngest(ref, { digest, size: data.length });
        crashed.append(data.subarray(0, 4096));
        crashed.close();
        fs.writeFileSync(path.join(ingestDir(root, ref), "lock"), holder);
        const ing = store.openIngest(ref, { digest, size: data.length });
        assert.equal(ing.offset, 4096, ref);
        ing.append(data.subarray(4096));
        assert.deepEqual(ing.commit(), { digest, size: data.length });
        store.delete(digest);
      }
      assert.deepEqual(files(path.join(root, "ingest")), []);
    });
  });

  test("several processes writing the same and different blobs at once leave every blob whole", async () => {
    const { root, store } = fresh();
    const WORKERS = 6;
    const SHARED = 12;
    // the same generator in the children and here
    const sharedBlob = (k: number) => Buffer.alloc(40_000 + k * 1111, `shared blob ${k} `);
    const ownBlob = (w: number) => Buffer.alloc(70_000 + w, `own blob of worker ${w} `);
    const ingested = Buffer.alloc(120_000, "one ingest for all ");
    const script = `
      import { createHash } from "node:crypto";
      import { Readable } from "node:stream";
      import { ContentStore } from ${JSON.stringify(STORE_JS)};
      const [root, w, SHARED] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
      const store = new ContentStore(root);
      const sha = (b) => "sha256:" + createHash("sha256").update(b).digest("hex");
      const sharedBlob = (k) => Buffer.alloc(40_000 + k * 1111, "shared blob " + k + " ");
      const chunked = (b) => Readable.from(Array.from({ length: Math.ceil(b.length / 4096) }, (_, i) => b.subarray(i * 4096, (i + 1) * 4096)));
      const check = (b) => { if (!store.read(sha(b)).equals(b)) throw new Error("torn read of " + sha(b)); };
      await new Promise((resolve) => process.stdin.once("data", resolve));
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < SHARED; i++) {
          const k = (i + w) % SHARED;
          const b = sharedBlob(k);
          // writeStream without a digest always writes and renames over what is there
          if ((k + round) % 2) store.writeBlob(b, { digest: sha(b), size: b.length });
          else await store.writeStream(chunked(b));
          check(b);
        }
      }
      const own = Buffer.alloc(70_000 + w, "own blob of worker " + w + " ");
      await store.writeStream(chunked(own), { digest: sha(own), size: own.length });
      check(own);
      // everyone wants the same resumable ingest: one holds it at a time, the rest wait
      const ingested = Buffer.alloc(120_000, "one ingest for all ");
      let busy = 0;
      while (!store.has(sha(ingested))) {
        let ing;
        try {
          ing = store.openIngest("shared ingest", { digest: sha(ingested), size: ingested.length });
        } catch (e) {
          if (!/in use by process/.test(e.message)) throw e;
          busy++;
          await new Promise((r) => setImmediate(r));
          continue;
        }
        if (store.has(sha(ingested))) { ing.abort(); break; }
        for (let off = ing.offset; off < ingested.length; off += 10_000) ing.append(ingested.subarray(off, Math.min(off + 10_000, ingested.length)));
        ing.commit();
      }
      check(ingested);
      process.stdout.write(JSON.stringify({ busy }));
    `;
    const children = Array.from({ length: WORKERS }, (_, w) => spawn(process.execPath, ["--input-type=module", "-e", script, root, String(w), String(SHARED)], { stdio: ["pipe", "pipe", "pipe"] }));
    try {
      const results = children.map(
        (c) =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            let out = "";
            let err = "";
            c.stdout.on("data", (d) => (out += d));
            c.stderr.on("data", (d) => (err += d));
            c.on("close", (code) => resolve({ code, out, err }));
          }),
      );
      for (const c of children) c.stdin.end("go\n"); // all start together, after their imports
      for (const r of await Promise.all(results)) assert.equal(r.code, 0, r.err);
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill();
    }

    const expected = [...Array.from({ length: SHARED }, (_, k) => sharedBlob(k)), ...Array.from({ length: WORKERS }, (_, w) => ownBlob(w)), ingested];
    assert.deepEqual(
      store.list().map((b) => b.digest).sort(),
      expected.map(sha256).sort(),
    );
    for (const b of expected) {
      const got = fs.readFileSync(store.path(sha256(b)));
      assert.equal(sha256(got), sha256(b), "whole and correct");
    }
    // (an empty ingest directory may stay when a refused opener's lock candidate raced the rmdir; cleanIngests takes it)
    assert.deepEqual(files(path.join(root, "ingest")), [], "no temp files, locks or ingests left");
  });

  test("cleanIngests removes what crashed writers left, and nothing in use or recent", () => {
    const { root, store } = fresh();
    const dir = path.join(root, "ingest");
    fs.mkdirSync(dir, { recursive: true });
    const old = (Date.now() - 3_600_000) / 1000;
    const age = (p: string) => fs.utimesSync(p, old, old);
    const dead = deadPid();

    const staleTmp = path.join(dir, `tmp-${dead}-0123456789ab`);
    const staleTmpWithStart = path.join(dir, `tmp-${dead}-999-abcdef012345`);
    const recentTmp = path.join(dir, `tmp-${dead}-fedcba987654`);
    const liveTmp = path.join(dir, `tmp-${process.pid}-aaaaaaaaaaaa`);
    for (const f of [staleTmp, staleTmpWithStart, recentTmp, liveTmp]) fs.writeFileSync(f, "partial");
    for (const f of [staleTmp, staleTmpWithStart, liveTmp]) age(f);

    const d = Buffer.from("ingest data");
    const ageIngest = (ref: string) => {
      const p = ingestDir(root, ref);
      for (const f of fs.readdirSync(p)) age(path.join(p, f));
      age(p);
    };
    const closed = store.openIngest("closed long ago", { digest: sha256(d) });
    closed.append(d.subarray(0, 4));
    closed.close();
    ageIngest("closed long ago");
    const crashed = store.openIngest("crashed holding its lock", { digest: sha256(d) });
    crashed.append(d.subarray(0, 4));
    crashed.close();
    fs.writeFileSync(path.join(ingestDir(root, "crashed holding its lock"), "lock"), String(dead));
    ageIngest("crashed holding its lock");
    const held = store.openIngest("held by us", { digest: sha256(d) });
    held.append(d.subarray(0, 4));
    ageIngest("held by us");
    const recent = store.openIngest("closed just now", { digest: sha256(d) });
    recent.append(d.subarray(0, 4));
    recent.close();
    fs.mkdirSync(path.join(dir, "trash-0123456789ab", "deep"), { recursive: true }); // a clean that died half-way
    fs.writeFileSync(path.join(dir, "trash-0123456789ab", "deep", "data"), "x");

    assert.equal(store.cleanIngests(60_000), 4);
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(ingestDir(root, "closed just now")), path.basename(ingestDir(root, "held by us")), path.basename(liveTmp), path.basename(recentTmp)].sort());
    assert.equal(store.openIngest("closed long ago", { digest: sha256(d) }).offset, 0, "a removed ingest starts over");
    held.append(d.subarray(4));
    assert.deepEqual(held.commit(), { digest: sha256(d), size: d.length }, "the held ingest was left alone");
    assert.equal(store.openIngest("closed just now", { digest: sha256(d) }).offset, 4);
    assert.equal(new ContentStore(path.join(tmp, "never-made")).cleanIngests(0), 0);
  });
});
