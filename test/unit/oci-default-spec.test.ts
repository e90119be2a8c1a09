import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultSpec, OCI_VERSION, validateSpec, type Spec } from "../../src/oci/index.js";
import { RUNC_SPEC } from "../helpers/runc-spec.js";


test("defaultSpec is runc's spec with berth's hostname and current runc's defaults", () => {
  const expected: Spec = JSON.parse(RUNC_SPEC);
  expected.ociVersion = OCI_VERSION;
  expected.hostname = "berth";
  // runc >= 1.2: no ambient set (ambient needs inheritable), cgroup namespace, tpm masked.
  delete expected.process!.capabilities!.ambient;
  expected.linux!.namespaces!.push({ type: "cgroup" });
  expected.linux!.maskedPaths!.push("/sys/devices/virtual/tpm");
  assert.deepEqual(defaultSpec(), expected);
  // Same key order as runc, so `berth-oci spec` output reads like runc's.
  assert.equal(JSON.stringify(defaultSpec()), JSON.stringify(expected));
});

test("defaultSpec passes validation, rootless or not", () => {
  validateSpec(defaultSpec(), "config.json");
  validateSpec(defaultSpec({ rootless: true }), "config.json");
  validateSpec(defaultSpec({ rootless: true, uid: 1000, gid: 100 }), "config.json");
});

test("each call returns a fresh document", () => {
  const a = defaultSpec();
  a.process!.args!.push("-c");
  a.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
  a.mounts![0]!.destination = "/elsewhere";
  assert.deepEqual(defaultSpec().process!.args, ["sh"]);
  assert.deepEqual(defaultSpec().process!.capabilities!.bounding, ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
  assert.equal(defaultSpec().mounts![0]!.destination, "/proc");
});

test("the rootless spec is what runc spec --rootless changes", () => {
  const spec = defaultSpec({ rootless: true, uid: 1000, gid: 100 });
  const linux = spec.linux!;
  assert.deepEqual(
    linux.namespaces!.map((ns) => ns.type),
    ["pid", "ipc", "uts", "mount", "cgroup", "user"],
  );
  assert.deepEqual(linux.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(linux.gidMappings, [{ containerID: 0, hostID: 100, size: 1 }]);
  assert.equal(linux.resources, undefined);
  assert.deepEqual(linux.maskedPaths, defaultSpec().linux!.maskedPaths);
  assert.deepEqual(linux.readonlyPaths, defaultSpec().linux!.readonlyPaths);

  const sys = spec.mounts!.find((m) => m.destination === "/sys");
  assert.deepEqual(sys, {
    destination: "/sys",
    type: "none",
    source: "/sys",
    options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
  });
  const devpts = spec.mounts!.find((m) => m.destination === "/dev/pts");
  assert.deepEqual(devpts!.options, ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]);
  // runc keeps the read-only cgroup mount in a rootless spec.
  assert.ok(spec.mounts!.some((m) => m.destination === "/sys/fs/cgroup" && m.type === "cgroup"));
  assert.deepEqual(
    spec.mounts!.map((m) => m.destination),
    defaultSpec().mounts!.map((m) => m.destination),
  );

  // Everything outside linux and mounts is the same as the ordinary spec.
  const { linux: _l, mounts: _m, ...rest } = spec;
  const { linux: _l2, mounts: _m2, ...plain } = defaultSpec();
  assert.deepEqual(rest, plain);
});

test("the rootless mapping defaults to root when no ids are given", () => {
  const linux = defaultSpec({ rootless: true }).linux!;
  assert.deepEqual(linux.uidMappings, [{ containerID: 0, hostID: 0, size: 1 }]);
  assert.deepEqual(linux.gidMappings, [{ containerID: 0, hostID: 0, size: 1 }]);
});
