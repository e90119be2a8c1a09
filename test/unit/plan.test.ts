// The launch plan: what the executor will be asked to do for a given config.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultSpec } from "../../src/oci/index.js";
import type { Spec } from "../../src/oci/runtime-spec.js";
import { compilePlan, type PlanInput } from "../../src/runtime/plan.js";
import { encodePlan, MessageReader, OpCode, encodeMessage, SyncMsg } from "../../src/runtime/protocol.js";
import { MS, parseMountOptions } from "../../src/runtime/mounts.js";
import { makedev, effectiveDeviceRules } from "../../src/runtime/devices.js";

function input(edit?: (s: Spec) => void, extra?: Partial<PlanInput>): PlanInput {
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.root = { path: "/bundle/rootfs", readonly: true };
  edit?.(spec);
  return { spec, rootfs: "/bundle/rootfs", stateDir: "/run/berth-oci/x", cgroupPaths: { memory: "/sys/fs/cgroup/memory/x", pids: "/sys/fs/cgroup/pids/x" }, cgroupMode: "v1", stay: false, ...extra };
}

const codes = (i: PlanInput) => compilePlan(i).ops.map((o) => OpCode[o.code]);
const opsOf = (i: PlanInput, code: OpCode) => compilePlan(i).ops.filter((o) => o.code === code);

describe("launch plan", () => {
  test("stage0 prepares the fifo, joins nothing and clones with the config's new namespaces", () => {
    const plan = compilePlan(input());
    assert.deepEqual(plan.ops.slice(0, 3).map((o) => OpCode[o.code]), ["MKFIFO", "OPEN_STATEDIR", "CLONE"]);
    const clone = plan.ops[2];
    // pid, network, ipc, uts, mount; the cgroup namespace is unshared after the init joins its cgroup
    assert.equal(clone.args[1], 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x00020000);
    assert.equal(clone.args[2], 0);
    assert.deepEqual(plan.newNamespaces.sort(), ["cgroup", "ipc", "mount", "network", "pid", "uts"]);
  });

  test("the order of the init's work: sync, rootfs, pivot, hostname, paths, user, exec", () => {
    const c = codes(input());
    const at = (name: string) => c.indexOf(name);
    assert.ok(at("SYNC") < at("UNSHARE"));
    assert.ok(at("UNSHARE") < at("SET_ROOT"));
    assert.ok(at("SET_ROOT") < at("PIVOT_ROOT"));
    assert.ok(at("MKNOD") < at("PIVOT_ROOT"));
    assert.ok(at("PIVOT_ROOT") < at("SETHOSTNAME"));
    assert.ok(at("READONLY_PATH") < at("MASK_PATH"));
    assert.ok(at("MASK_PATH") < at("REMOUNT_RO"));
    assert.ok(at("CAPS_BOUNDING") < at("SETUSER"));
    assert.ok(at("SETUSER") < at("CAPSET"));
    assert.ok(at("LOOKUP_EXEC") < at("READY"));
    assert.deepEqual(c.slice(-3), ["READY", "WAIT_START", "EXEC"]);
  });

  test("namespaces with a path are joined, user first, and not cloned", () => {
    const plan = compilePlan(
      input((s) => {
        s.linux!.namespaces = [
          { type: "network", path: "/var/run/netns/a" },
          { type: "user", path: "/proc/1/ns/user" },
          { type: "mount" },
        ];
        s.hostname = undefined;
        s.linux!.sysctl = undefined;
      }),
    );
    const joins = plan.ops.filter((o) => o.code === OpCode.SETNS).map((o) => o.args[1]);
    assert.deepEqual(joins, ["/proc/1/ns/user", "/var/run/netns/a"]);
    assert.equal(plan.ops.find((o) => o.code === OpCode.CLONE)!.args[1], 0x00020000);
    assert.equal(plan.ops.some((o) => o.code === OpCode.LOOPBACK_UP), false);
  });

  test("mount targets are resolved inside the root; sources of binds are host paths", () => {
    const mounts = opsOf(
      input((s) => {
        s.mounts = [{ destination: "/data/../proc", type: "proc", source: "proc" }];
      }),
      OpCode.MOUNT,
    );
    const proc = mounts.find((m) => m.args[3] === "proc")!;
    assert.equal(proc.args[2], "proc", "relative: resolved in the root by the executor");
    assert.equal(proc.args[6], 1, "create a directory");
  });

  test("a read-only bind mount is a bind then a remount with the flags", () => {
    const mounts = opsOf(
      input((s) => {
        s.mounts = [{ destination: "/etc/hosts", type: "bind", source: "/etc/hosts", options: ["rbind", "ro", "nosuid", "rprivate"] }];
      }),
      OpCode.MOUNT,
    ).filter((m) => String(m.args[2]).startsWith("etc"));
    assert.equal(mounts.length, 3);
    assert.deepEqual(mounts[0].args.slice(1), ["/etc/hosts", "etc/hosts", "", MS.BIND | MS.REC, "", 2]);
    assert.equal(mounts[1].args[4], MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID);
    assert.equal(mounts[2].args[4], MS.PRIVATE | MS.REC);
  });

  test("rlimits, capabilities and the user become numbers and masks", () => {
    const plan = compilePlan(
      input((s) => {
        s.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 10, hard: 18446744073709551615 }];
        s.process!.user = { uid: 5, gid: 6, additionalGids: [7, 8] };
        s.process!.capabilities = { bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_KILL"] };
      }),
    );
    const rl = plan.ops.find((o) => o.code === OpCode.SETRLIMIT)!;
    assert.deepEqual(rl.args.slice(1), [7, 10n, -1n]);
    const user = plan.ops.find((o) => o.code === OpCode.SETUSER)!;
    assert.equal(user.args[1], 5);
    assert.equal(user.args[2], 6);
    assert.deepEqual([...(user.args[3] as Buffer)], [7, 0, 0, 0, 8, 0, 0, 0]);
    assert.equal(plan.ops.find((o) => o.code === OpCode.CAPS_BOUNDING)!.args[1], (1n << 0n) | (1n << 5n));
    assert.deepEqual(plan.ops.find((o) => o.code === OpCode.CAPSET)!.args.slice(1), [1n << 5n, 0n, 0n]);
  });

  test("the exec lookup uses the container's PATH", () => {
    const look = opsOf(input((s) => { s.process!.env = ["PATH=/opt/bin:/bin", "A=1"]; s.process!.args = ["tool", "x"]; }), OpCode.LOOKUP_EXEC)[0];
    assert.deepEqual(look.args, ['exec: "tool"', "tool", "/opt/bin:/bin"]);
    const exec = opsOf(input((s) => { s.process!.args = ["a", "b c"]; s.process!.env = ["X=1"]; }), OpCode.EXEC)[0];
    assert.equal((exec.args[1] as Buffer).toString(), "a\0b c\0");
    assert.equal((exec.args[2] as Buffer).toString(), "X=1\0");
  });

  test("sysctls outside the container's namespaces are refused", () => {
    assert.throws(() => compilePlan(input((s) => { s.linux!.sysctl = { "kernel.panic": "1" }; })), { message: 'config.json: linux.sysctl: "kernel.panic" is not namespaced and would change the host' });
    assert.throws(() => compilePlan(input((s) => { s.linux!.sysctl = { "net.ipv4.ip_forward": "1" }; s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "network"); })), /requires a network namespace of the container's own/);
    const ok = opsOf(input((s) => { s.linux!.sysctl = { "net.ipv4.ip_forward": "1" }; }), OpCode.WRITE_FILE)[0];
    assert.deepEqual(ok.args.slice(1), ["/proc/sys/net/ipv4/ip_forward", "1"]);
  });

  test("a v1 cgroup mount binds each hierarchy of the container's own cgroup", () => {
    const mounts = opsOf(input(), OpCode.MOUNT).filter((m) => String(m.args[2]).startsWith("sys/fs/cgroup"));
    assert.deepEqual(mounts.map((m) => m.args[1]).filter(Boolean), ["tmpfs", "/sys/fs/cgroup/memory/x", "/sys/fs/cgroup/pids/x"]);
  });

  test("run in the foreground keeps the executor as the parent", () => {
    assert.equal(compilePlan(input(undefined, { stay: true })).ops.find((o) => o.code === OpCode.CLONE)!.args[2], 1);
  });
});

describe("mount options and devices", () => {
  test("flags, clears, propagation and data", () => {
    const p = parseMountOptions(["nosuid", "ro", "rw", "noexec", "mode=755", "size=1m", "rshared"], "m");
    assert.equal(p.flags, MS.NOSUID | MS.NOEXEC);
    assert.deepEqual(p.propagation, [MS.SHARED | MS.REC]);
    assert.equal(p.data, "mode=755,size=1m");
  });

  test("makedev matches glibc", () => {
    assert.equal(makedev(1, 3), 0x103n);
    assert.equal(makedev(10, 229), 0xae5n);
    assert.equal(makedev(259, 70000), (BigInt(70000 & ~0xff) << 12n) | (259n << 8n) | BigInt(70000 & 0xff));
  });

  test("device cgroup rules: the config's first, then the defaults and linux.devices", () => {
    const rules = effectiveDeviceRules([{ allow: false, access: "rwm" }], [{ type: "c", path: "/dev/fuse", major: 10, minor: 229 }]);
    assert.deepEqual(rules[0], { allow: false, access: "rwm" });
    assert.ok(rules.some((r) => r.major === 1 && r.minor === 3 && r.allow));
    assert.deepEqual(rules.at(-1), { allow: true, type: "c", major: 10, minor: 229, access: "rwm" });
  });
});

describe("protocol", () => {
  test("a plan encodes as magic, version, length and length-prefixed args", () => {
    const buf = encodePlan([{ code: OpCode.CHDIR, args: ["chdir", "/tmp"] }, { code: OpCode.UMASK, args: ["umask", 0o22] }]);
    assert.equal(buf.subarray(0, 8).toString(), "BRTHPLAN");
    assert.equal(buf.readUInt32LE(8), 1);
    assert.equal(buf.readUInt32LE(12), buf.length - 16);
    assert.equal(buf.readUInt32LE(16), OpCode.CHDIR);
    assert.equal(buf.readUInt32LE(20), 2);
    assert.equal(buf.readUInt32LE(24), 5);
    assert.equal(buf.subarray(28, 33).toString(), "chdir");
    const umaskArg = buf.subarray(buf.length - 8);
    assert.equal(umaskArg.readBigInt64LE(), 0o22n);
  });

  test("messages split across chunks are reassembled", () => {
    const bytes = Buffer.concat([encodeMessage(SyncMsg.CHILD_PID, Buffer.from([1, 0, 0, 0])), encodeMessage(SyncMsg.READY)]);
    const r = new MessageReader();
    assert.deepEqual(r.push(bytes.subarray(0, 5)), []);
    const msgs = r.push(bytes.subarray(5));
    assert.deepEqual(msgs.map((m) => m.type), [SyncMsg.CHILD_PID, SyncMsg.READY]);
    assert.equal(msgs[0].payload.readInt32LE(0), 1);
  });
});
