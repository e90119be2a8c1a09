// Image references read as Docker reads them: normalisation to the full name, the familiar
// (short) form docker shows, digests, and one-line errors for what Docker refuses.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { BerthError } from "../../src/errors.js";
import { DEFAULT_DOMAIN, isDigestReference, parseReference, withTag } from "../../src/image/reference.js";

const HEX = createHash("sha256").update("an image manifest").digest("hex");
const DIGEST = `sha256:${HEX}`;

/** domain, path, tag, digest, full form, familiar form */
function parsed(s: string) {
  const r = parseReference(s);
  return { domain: r.domain, path: r.path, tag: r.tag, digest: r.digest, name: r.name, full: r.toString(), familiar: r.familiar() };
}

function assertInvalid(s: string, message: string): void {
  assert.throws(
    () => parseReference(s),
    (err: unknown) => {
      assert.ok(err instanceof BerthError, `expected a BerthError for ${JSON.stringify(s)}, got ${String(err)}`);
      assert.equal(err.kind, "InvalidArgument");
      assert.equal(err.message, message);
      assert.ok(!err.message.includes("\n"), "one line");
      return true;
    },
  );
}

test("Docker Hub names get docker.io, library/ and :latest", () => {
  assert.equal(DEFAULT_DOMAIN, "docker.io");
  assert.deepEqual(parsed("busybox"), {
    domain: "docker.io",
    path: "library/busybox",
    tag: "latest",
    digest: undefined,
    name: "docker.io/library/busybox",
    full: "docker.io/library/busybox:latest",
    familiar: "busybox:latest",
  });
  assert.deepEqual(parsed("user/app"), {
    domain: "docker.io",
    path: "user/app",
    tag: "latest",
    digest: undefined,
    name: "docker.io/user/app",
    full: "docker.io/user/app:latest",
    familiar: "user/app:latest",
  });
  assert.equal(parseReference("busybox:1.36.1-musl").toString(), "docker.io/library/busybox:1.36.1-musl");
  assert.equal(parseReference("docker.io/busybox").toString(), "docker.io/library/busybox:latest");
  assert.equal(parseReference("docker.io/library/busybox:1").familiar(), "busybox:1");
  assert.equal(parseReference("index.docker.io/library/busybox").toString(), "docker.io/library/busybox:latest", "the legacy hub name");
  assert.equal(parseReference("index.docker.io/user/app:v2").familiar(), "user/app:v2");
  // only a single component under library/ is shortened, as Docker's FamiliarName does
  assert.equal(parseReference("library/a/b").familiar(), "library/a/b:latest");
  assert.equal(parseReference("a/b/c:1").toString(), "docker.io/a/b/c:1");
  // a name with a tag that looks like a port is a Docker Hub image, not a registry
  assert.equal(parseReference("localhost:5000").toString(), "docker.io/library/localhost:5000");
  assert.equal(parseReference("my_app.v2__x-y--z").toString(), "docker.io/library/my_app.v2__x-y--z:latest");
});

test("a first component with '.', ':', capitals or localhost is a registry", () => {
  assert.deepEqual(parsed("host:5000/a/b:tag"), {
    domain: "host:5000",
    path: "a/b",
    tag: "tag",
    digest: undefined,
    name: "host:5000/a/b",
    full: "host:5000/a/b:tag",
    familiar: "host:5000/a/b:tag",
  });
  assert.deepEqual(parsed("localhost/x"), {
    domain: "localhost",
    path: "x",
    tag: "latest",
    digest: undefined,
    name: "localhost/x",
    full: "localhost/x:latest",
    familiar: "localhost/x:latest",
  });
  assert.equal(parseReference("localhost:5000/x").toString(), "localhost:5000/x:latest");
  assert.equal(parseReference("ghcr.io/owner/repo:1.0").familiar(), "ghcr.io/owner/repo:1.0");
  assert.equal(parseReference("quay.io/x").path, "x", "no library/ outside Docker Hub");
  assert.equal(parseReference("Registry/x").domain, "Registry");
  assert.equal(parseReference("[::1]:5000/x:1").toString(), "[::1]:5000/x:1");
  assert.equal(parseReference("10.0.0.1:5000/team/app").name, "10.0.0.1:5000/team/app");
});

test("digests: name@sha256:… and name:tag@sha256:…", () => {
  assert.deepEqual(parsed(`busybox@${DIGEST}`), {
    domain: "docker.io",
    path: "library/busybox",
    tag: undefined,
    digest: DIGEST,
    name: "docker.io/library/busybox",
    full: `docker.io/library/busybox@${DIGEST}`,
    familiar: `busybox@${DIGEST}`,
  });
  assert.deepEqual(parsed(`busybox:1.36@${DIGEST}`), {
    domain: "docker.io",
    path: "library/busybox",
    tag: "1.36",
    digest: DIGEST,
    name: "docker.io/library/busybox",
    full: `docker.io/library/busybox:1.36@${DIGEST}`,
    familiar: `busybox:1.36@${DIGEST}`,
  });
  assert.equal(parseReference(`host:5000/a/b@${DIGEST}`).toString(), `host:5000/a/b@${DIGEST}`);
  const sha512 = `sha512:${createHash("sha512").update("x").digest("hex")}`;
  assert.equal(parseReference(`ghcr.io/x/y@${sha512}`).digest, sha512);
  assert.equal(isDigestReference(`busybox@${DIGEST}`), true);
  assert.equal(isDigestReference(parseReference(`busybox:1@${DIGEST}`)), true);
  assert.equal(isDigestReference("busybox:1"), false);
});

test("withTag keeps the repository and drops the digest", () => {
  const r = withTag(parseReference(`host:5000/a/b:old@${DIGEST}`), "new");
  assert.equal(r.toString(), "host:5000/a/b:new");
  assert.equal(r.digest, undefined);
  assert.equal(withTag(parseReference("busybox"), "1.36").familiar(), "busybox:1.36");
  assert.throws(
    () => withTag(parseReference("busybox"), "-bad"),
    (e: unknown) => e instanceof BerthError && e.kind === "InvalidArgument" && e.message === 'invalid tag "-bad": expected up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"',
  );
});

test("bad references get one-line errors naming the reference and what was expected", () => {
  const tagRule = 'expected up to 128 letters, digits, "_", "." or "-", not starting with "." or "-"';
  const componentRule = 'expected lowercase letters and digits separated by ".", "_", "__" or "-"';
  assertInvalid("", 'invalid reference "": empty');
  assertInvalid("Busybox", 'invalid reference "Busybox": repository name must be lowercase');
  assertInvalid("docker.io/Library/busybox", 'invalid reference "docker.io/Library/busybox": repository name must be lowercase');
  assertInvalid(":latest", 'invalid reference ":latest": missing repository name');
  assertInvalid(`@${DIGEST}`, `invalid reference "@${DIGEST}": missing repository name`);
  assertInvalid("busybox:", `invalid reference "busybox:": tag "": ${tagRule}`);
  assertInvalid("busybox:.hidden", `invalid reference "busybox:.hidden": tag ".hidden": ${tagRule}`);
  assertInvalid(`busybox:${"t".repeat(129)}`, `invalid reference "busybox:${"t".repeat(129)}": tag "${"t".repeat(129)}": ${tagRule}`);
  assertInvalid("a//b", 'invalid reference "a//b": repository name has an empty path component');
  assertInvalid("user/", 'invalid reference "user/": repository name has an empty path component');
  assertInvalid("-app", `invalid reference "-app": path component "-app": ${componentRule}`);
  assertInvalid("user/app_", `invalid reference "user/app_": path component "app_": ${componentRule}`);
  assertInvalid("a___b", `invalid reference "a___b": path component "a___b": ${componentRule}`);
  assertInvalid("host:port/x", 'invalid reference "host:port/x": registry "host:port": expected a host name or IP address with an optional :port');
  assertInvalid("-host.io/x", 'invalid reference "-host.io/x": registry "-host.io": expected a host name or IP address with an optional :port');
  assertInvalid(HEX, `invalid reference "${HEX}": a 64-character hexadecimal string is an image ID, not a repository name`);
  assertInvalid("busybox@sha256:abc", 'invalid reference "busybox@sha256:abc": digest: expected sha256:<64 lowercase hex digits>, got "sha256:abc"');
  assertInvalid("busybox@", 'invalid reference "busybox@": digest: expected algorithm:hex, got ""');
  assertInvalid("busybox@md5:abcd", 'invalid reference "busybox@md5:abcd": digest: unsupported digest algorithm "md5" in "md5:abcd", expected sha256 or sha512');
  const long = `a/${"b".repeat(254)}`;
  assertInvalid(long, `invalid reference "${long}": repository name must not be longer than 255 characters`);
  // a name that is 64 hex digits with a registry or tag is a name, as in Docker
  assert.equal(parseReference(`${HEX}:1`).path, `library/${HEX}`);
});
