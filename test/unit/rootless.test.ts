// /etc/subuid and /etc/subgid as an unprivileged berth reads them, and the cgroup v2 tree a
// host delegates to the user (src/engine/rootless.ts).
import assert from "node:assert/strict";
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { delegatedCgroup, rootlessCgroup, subordinateRange } from "../../src/engine/index.js";
import type { Spec } from "../../src/oci/index.js";

test("subordinateRange: the user's first range, by name or by uid; none for others or malformed lines", () => {
  const text = "# comment\nalice:100000:65536\nbob:x:10\n1002:300000:1000\nalice:500000:65536\n";
  assert.deepEqual(subordinateRange(text, "alice", 1001), { start: 100000, count: 65536 });
  assert.deepEqual(subordinateRange(text, "carol", 1002), { start: 300000, count: 1000 });
  assert.equal(subordinateRange(text, "bob", 1003), undefined);
  assert.equal(subordinateRange(text, "dave", 1004), undefined);
  assert.equal(subordinateRange("", "alice", 1001), undefined);
});

// A cgroup v2 tree as systemd delegates it (user@UID.service owned by the user), laid out in a
// temporary directory with real owners: the test runs as root, so "the user" is uid 0 and the
// trees above it belong to nobody (65534).
test("delegatedCgroup: the highest cgroup above berth's own that the user owns, with its controllers; none on v1 or from a session the user does not own", { skip: process.getuid?.() !== 0 ? "needs root (chown)" : false }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), "berth-deleg-"));
  try {
    const mount = path.join(dir, "cgroup");
    const tree = ["user.slice", "user.slice/user-0.slice", "user.slice/user-0.slice/user@0.service", "user.slice/user-0.slice/user@0.service/app.slice", "user.slice/user-0.slice/user@0.service/app.slice/term.scope", "user.slice/user-0.slice/session-1.scope"];
    mkdirSync(mount);
    for (const t of tree) mkdirSync(path.join(mount, t));
    for (const t of ["", ...tree.slice(0, 2), tree[5]!]) chownSync(path.join(mount, t), 65534, 65534);
    writeFileSync(path.join(mount, tree[2]!, "cgroup.controllers"), "cpu io memory pids\n");
    const self = path.join(dir, "self");
    writeFileSync(self, `0::/${tree[4]}\n`);
    assert.deepEqual(delegatedCgroup({ mount, self, mode: "v2" }), { path: "/user.slice/user-0.slice/user@0.service", controllers: ["cpu", "io", "memory", "pids"] });
    assert.equal(delegatedCgroup({ mount, self, mode: "v1" }), undefined);
    writeFileSync(self, `0::/${tree[5]}\n`);
    assert.equal(delegatedCgroup({ mount, self, mode: "v2" }), undefined, "a login session's scope is not the user's");
    writeFileSync(self, "12:memory:/user.slice\n");
    assert.equal(delegatedCgroup({ mount, self, mode: "v2" }), undefined, "no v2 entry");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("rootlessCgroup: under a delegated cgroup the container's cgroup goes there and keeps the limits its controllers enforce; the rest go with one warning", () => {
  const spec = (): Spec => ({ ociVersion: "1.0.2", linux: { cgroupsPath: "/berth/c1", resources: { memory: { limit: 1 << 26 }, pids: { limit: 50 }, cpu: { quota: 50000, period: 100000, cpus: "0" } } } });
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const all = spec();
  rootlessCgroup(all, warn, { path: "/user.slice/user-1000.slice/user@1000.service", controllers: ["cpu", "cpuset", "memory", "pids"] });
  assert.equal(all.linux!.cgroupsPath, "/user.slice/user-1000.slice/user@1000.service/berth/c1");
  assert.deepEqual(all.linux!.resources, spec().linux!.resources);
  assert.deepEqual(warnings, []);
  const some = spec();
  rootlessCgroup(some, warn, { path: "/u", controllers: ["memory"] });
  assert.deepEqual(some.linux!.resources, { memory: { limit: 1 << 26 } });
  assert.deepEqual(warnings, ["cgroup controllers pids, cpu, cpuset are not delegated to this user (/u): running without those limits"]);
  warnings.length = 0;
  const none = spec();
  rootlessCgroup(none, warn, undefined);
  assert.equal(none.linux!.cgroupsPath, "/berth/c1", "left for the runtime, which goes without a cgroup it cannot make");
  assert.deepEqual(none.linux!.resources, { devices: undefined });
  assert.deepEqual(warnings, ["cgroups are not delegated to this user: running without limits"]);
});
