// The registry server's pure parts: what a URL may name, htpasswd files, bearer tokens.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { allows, Htpasswd, parseScope, Tokens } from "../../src/registry/server/auth.js";
import { RegistryError } from "../../src/registry/server/errors.js";
import { checkDigest, checkName, checkReference } from "../../src/registry/server/names.js";

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof RegistryError, String(e));
    return `${e.status} ${e.code}`;
  }
  return "ok";
};

test("repository names follow the spec's grammar; nothing that could be a path trick passes", () => {
  for (const ok of ["a", "library/busybox", "a/b/c/d", "a.b_c__d--e", "x-y/z9", "0"]) assert.equal(code(() => checkName(ok)), "ok", ok);
  for (const bad of ["", "..", "a/..", "../a", "a/./b", ".a", "a.", "a//b", "/a", "a/", "A", "a/B", "_a", "a/_b", "a___b", "a%2e", "a b", "a\\b", "a/\u0000", "a".repeat(256)]) {
    assert.equal(code(() => checkName(bad)), "400 NAME_INVALID", JSON.stringify(bad));
  }
  assert.equal(code(() => checkName("a".repeat(255))), "ok");
});

test("digests: sha256 and sha512 of the exact length, lowercase hex; anything else is DIGEST_INVALID", () => {
  assert.equal(checkDigest(`sha256:${"a".repeat(64)}`).algorithm, "sha256");
  assert.equal(checkDigest(`sha512:${"0".repeat(128)}`).algorithm, "sha512");
  for (const bad of ["sha256", "sha256:", `sha256:${"a".repeat(63)}`, `sha256:${"A".repeat(64)}`, `sha512:${"a".repeat(64)}`, `md5:${"a".repeat(32)}`, `sha256:${"g".repeat(64)}`, `sha256:../${"a".repeat(61)}`]) {
    assert.equal(code(() => checkDigest(bad)), "400 DIGEST_INVALID", bad);
  }
});

test("manifest references are a tag or a digest", () => {
  assert.deepEqual(checkReference("latest"), { tag: "latest" });
  assert.deepEqual(checkReference("_x.1-2"), { tag: "_x.1-2" });
  assert.equal(checkReference(`sha256:${"b".repeat(64)}`).digest, `sha256:${"b".repeat(64)}`);
  for (const bad of ["-x", ".x", "", "t".repeat(129), "a/b", "a b"]) assert.equal(code(() => checkReference(bad)), "400 MANIFEST_INVALID", bad);
  assert.equal(code(() => checkReference("sha256:short")), "400 DIGEST_INVALID");
});

test("htpasswd: bcrypt lines only, verified once and remembered", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "berth-htpasswd-"));
  try {
    const file = path.join(dir, "ht");
    // "secret" hashed with bcrypt cost 4 ($2y$ as htpasswd -B writes it)
    const bcrypt = (await import("bcryptjs")).default;
    writeFileSync(file, `# users\nalice:${bcrypt.hashSync("secret", 4).replace(/^\$2[ab]\$/, "$2y$")}\n\n`);
    const h = new Htpasswd(file);
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
    assert.equal(await h.verify(basic("alice", "secret")), "alice");
    assert.equal(await h.verify(basic("alice", "secret")), "alice");
    assert.equal(await h.verify(basic("alice", "wrong")), undefined);
    assert.equal(await h.verify(basic("bob", "secret")), undefined);
    assert.equal(await h.verify(undefined), undefined);
    assert.equal(await h.verify("Bearer x"), undefined);
    writeFileSync(file, "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
    assert.throws(() => new Htpasswd(file), /line 1: expected user:bcrypt-hash \(as "htpasswd -B" writes\)/);
    writeFileSync(file, "# nobody\n");
    assert.throws(() => new Htpasswd(file), /no users in it/);
    assert.throws(() => new Htpasswd(path.join(dir, "missing")), /no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bearer tokens: signed, expiring, and only as wide as their scopes", () => {
  const t = new Tokens();
  assert.deepEqual(parseScope("repository:a/b:pull,push"), { type: "repository", name: "a/b", actions: ["pull", "push"] });
  assert.deepEqual(parseScope("registry:catalog:*"), { type: "registry", name: "catalog", actions: ["*"] });
  assert.equal(parseScope("nonsense"), undefined);
  const now = Date.now();
  const { token } = t.issue("alice", [parseScope("repository:a/b:pull")!], now);
  const got = t.verify(`Bearer ${token}`, now);
  assert.equal(got?.sub, "alice");
  assert.ok(allows(got!.access, { type: "repository", name: "a/b", actions: ["pull"] }));
  assert.ok(!allows(got!.access, { type: "repository", name: "a/b", actions: ["push"] }));
  assert.ok(!allows(got!.access, { type: "repository", name: "a/c", actions: ["pull"] }));
  assert.equal(t.verify(`Bearer ${token}`, now + 301_000), undefined, "expired");
  assert.equal(new Tokens().verify(`Bearer ${token}`, now), undefined, "another server's key");
  assert.equal(t.verify(`Bearer ${token.slice(0, -2)}xx`, now), undefined, "tampered");
});
