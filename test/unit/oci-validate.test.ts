import { test } from "node:test";
import assert from "node:assert/strict";
import { BerthError } from "../../src/errors.js";
import { capabilityMask, CAPABILITIES, defaultSpec, parseSpec, validateProcess, validateSpec } from "../../src/oci/index.js";
import { RUNC_SPEC } from "../helpers/runc-spec.js";


// What `runc spec --rootless` (runc 1.1.5) prints, run as root.
const RUNC_ROOTLESS_SPEC = `{"ociVersion": "1.0.2-dev", "process": {"terminal": true, "user": {"uid": 0, "gid": 0}, "args": ["sh"], "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], "cwd": "/", "capabilities": {"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]}, "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": true}, "root": {"path": "rootfs", "readonly": true}, "hostname": "runc", "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}, {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}, {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}, {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}, {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}, {"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}, {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}], "linux": {"uidMappings": [{"containerID": 0, "hostID": 0, "size": 1}], "gidMappings": [{"containerID": 0, "hostID": 0, "size": 1}], "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}], "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"], "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]}}`;

// Tests edit documents freely, so they are untyped here.
type Doc = any;

function runcSpec(): Doc {
  return JSON.parse(RUNC_SPEC);
}

function assertInvalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BerthError, `expected a BerthError, got ${String(err)}`);
    assert.equal(err.kind, "InvalidArgument");
    assert.equal(err.message, message);
    return true;
  });
}

/** Edits a copy of runc's spec and expects validateSpec to reject it with exactly `message`. */
function rejects(edit: (spec: Doc) => void, message: string): void {
  const spec = runcSpec();
  edit(spec);
  assertInvalid(() => validateSpec(spec, "config.json"), message);
}

test("runc's spec and rootless spec are valid", () => {
  const spec = parseSpec(RUNC_SPEC, "config.json");
  assert.deepEqual(spec.process?.args, ["sh"]);
  parseSpec(RUNC_ROOTLESS_SPEC, "config.json");
});

test("defaultSpec documents are valid", () => {
  validateSpec(defaultSpec(), "config.json");
  validateSpec(defaultSpec({ rootless: true, uid: 1000, gid: 1000 }), "config.json");
});

test("a full document using every Linux section is valid", () => {
  const spec = runcSpec();
  spec.domainname = "example.org";
  spec.annotations = { "org.example.key": "value" };
  spec.hooks = {
    prestart: [{ path: "/usr/bin/hook", args: ["hook", "prestart"], env: ["A=1"], timeout: 5 }],
    createRuntime: [{ path: "/bin/true" }],
    poststop: [],
  };
  spec.process.user = { uid: 1000, gid: 1000, umask: 18, additionalGids: [5, 6] };
  spec.process.consoleSize = { height: 24, width: 80 };
  spec.process.rlimits.push({ type: "RLIMIT_CORE", hard: 18446744073709551615, soft: 0 });
  spec.process.oomScoreAdj = -500;
  spec.process.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 4 };
  spec.process.scheduler = { policy: "SCHED_BATCH", nice: -5, flags: ["SCHED_FLAG_RESET_ON_FORK"] };
  spec.mounts.push({ destination: "/data", type: "bind", source: "/srv/data", options: ["rbind", "rw"] });
  spec.mounts.push({ destination: "/idmapped", source: "/srv/x", uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] });
  Object.assign(spec.linux, {
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    devices: [
      { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
      { path: "/dev/fifo", type: "p" },
    ],
    sysctl: { "net.ipv4.ip_forward": "1" },
    cgroupsPath: "/berth/test",
    rootfsPropagation: "rslave",
    timeOffsets: { monotonic: { secs: 10, nanosecs: 5 } },
    personality: { domain: "LINUX32" },
    seccomp: {
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      flags: ["SECCOMP_FILTER_FLAG_LOG"],
      syscalls: [
        { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
        { names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }] },
      ],
    },
  });
  spec.linux.namespaces.push({ type: "user" }, { type: "cgroup" }, { type: "time" });
  Object.assign(spec.linux.resources, {
    memory: { limit: 536870912, swap: -1, swappiness: 0, disableOOMKiller: false },
    cpu: { shares: 1024, quota: -1, period: 100000, cpus: "0-1" },
    pids: { limit: -1 },
    blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1024 }] },
    hugepageLimits: [{ pageSize: "2MB", limit: 0 }],
    network: { classID: 1048577, priorities: [{ name: "eth0", priority: 500 }] },
    rdma: { mlx5_1: { hcaHandles: 3 } },
    unified: { "io.weight": "default 100" },
  });
  spec.linux.resources.devices.push({ allow: true, type: "c", major: 10, minor: null, access: "rw" });
  validateSpec(spec, "config.json");
});

test("unknown fields are ignored", () => {
  const spec = runcSpec();
  spec.somethingNew = { a: 1 };
  spec.process.futureField = [1, 2];
  spec.linux.netDevices = { eth1: {} };
  spec.mounts[0].extra = true;
  validateSpec(spec, "config.json");
});

test("invalid JSON names the source and the parser's complaint", () => {
  assertInvalid(
    () => parseSpec('{"ociVersion": }', "config.json"),
    `config.json: invalid JSON: Unexpected token '}', "{"ociVersion": }" is not valid JSON`,
  );
  assertInvalid(
    () => parseSpec('{\n  "a": 1,\n  "b" 2\n}', "bundle/config.json"),
    "bundle/config.json: invalid JSON: Unexpected number in JSON at position 18 (line 3 column 7)",
  );
  assertInvalid(() => parseSpec("", "config.json"), "config.json: invalid JSON: Unexpected end of JSON input");
  assertInvalid(() => parseSpec("[]", "config.json"), "config.json: expected a JSON object, got array");
});

const cases: [string, (spec: Doc) => void, string][] = [
  // ociVersion
  ["ociVersion missing", (s) => delete s.ociVersion, 'config.json: ociVersion: missing (expected a SemVer version such as "1.2.0")'],
  ["ociVersion not SemVer", (s) => (s.ociVersion = "1.0"), 'config.json: ociVersion: "1.0" is not a SemVer version (expected e.g. "1.2.0")'],
  ["ociVersion a number", (s) => (s.ociVersion = 1), "config.json: ociVersion: expected a string, got number"],
  // root
  ["root missing", (s) => delete s.root, 'config.json: root: missing (expected an object with a "path")'],
  ["root.path missing", (s) => delete s.root.path, "config.json: root.path: missing (expected a string)"],
  ["root.path empty", (s) => (s.root.path = ""), "config.json: root.path: must not be empty"],
  ["root.readonly a string", (s) => (s.root.readonly = "yes"), "config.json: root.readonly: expected a boolean, got string"],
  // mounts
  ["mounts an object", (s) => (s.mounts = {}), "config.json: mounts: expected an array, got object"],
  ["mount destination relative", (s) => (s.mounts[2].destination = "dev/pts"), "config.json: mounts[2].destination: must be an absolute path"],
  ["mount destination missing", (s) => delete s.mounts[0].destination, "config.json: mounts[0].destination: missing (expected an absolute path)"],
  ["mount option not a string", (s) => (s.mounts[1].options[2] = 755), "config.json: mounts[1].options[2]: expected a string, got number"],
  ["mount source null", (s) => (s.mounts[0].source = null), "config.json: mounts[0].source: expected a string, got null"],
  ["mount uidMappings size", (s) => (s.mounts[0].uidMappings = [{ containerID: 0, hostID: 0 }]), "config.json: mounts[0].uidMappings[0].size: missing (expected a non-negative integer)"],
  // process
  ["process missing", (s) => delete s.process, 'config.json: process: missing (expected an object)'],
  ["process.args missing", (s) => delete s.process.args, "config.json: process.args: must be a non-empty array of strings"],
  ["process.args empty", (s) => (s.process.args = []), "config.json: process.args: must be a non-empty array of strings"],
  ["process.args a string", (s) => (s.process.args = "sh"), "config.json: process.args: must be a non-empty array of strings"],
  ["process.args element", (s) => (s.process.args = ["sh", 1]), "config.json: process.args[1]: expected a string, got number"],
  ["process.args NUL", (s) => (s.process.args = ["sh\0x"]), "config.json: process.args[0]: must not contain a NUL byte"],
  ["process.cwd relative", (s) => (s.process.cwd = "root"), "config.json: process.cwd: must be an absolute path"],
  ["process.cwd missing", (s) => delete s.process.cwd, "config.json: process.cwd: missing (expected an absolute path)"],
  ["process.terminal a string", (s) => (s.process.terminal = "true"), "config.json: process.terminal: expected a boolean, got string"],
  ["process.env without =", (s) => s.process.env.push("FOO"), 'config.json: process.env[2]: must be of the form KEY=value, got "FOO"'],
  ["process.env empty key", (s) => s.process.env.push("=x"), 'config.json: process.env[2]: must be of the form KEY=value, got "=x"'],
  ["process.user missing", (s) => delete s.process.user, 'config.json: process.user: missing (expected an object with "uid" and "gid")'],
  ["process.user.uid negative", (s) => (s.process.user.uid = -1), "config.json: process.user.uid: expected a non-negative integer, got -1"],
  ["process.user.uid fraction", (s) => (s.process.user.uid = 1.5), "config.json: process.user.uid: expected a non-negative integer, got 1.5"],
  ["process.user.uid a string", (s) => (s.process.user.uid = "0"), "config.json: process.user.uid: expected a non-negative integer, got string"],
  ["process.user.uid too big", (s) => (s.process.user.uid = 4294967296), "config.json: process.user.uid: must be at most 4294967295, got 4294967296"],
  ["process.user.gid missing", (s) => delete s.process.user.gid, "config.json: process.user.gid: missing (expected a non-negative integer)"],
  ["additionalGids element", (s) => (s.process.user.additionalGids = [5, "6"]), "config.json: process.user.additionalGids[1]: expected a non-negative integer, got string"],
  ["oomScoreAdj range", (s) => (s.process.oomScoreAdj = 1001), "config.json: process.oomScoreAdj: expected an integer between -1000 and 1000, got 1001"],
  ["consoleSize width", (s) => (s.process.consoleSize = { height: 1 }), "config.json: process.consoleSize.width: missing (expected a non-negative integer)"],
  ["ioPriority class", (s) => (s.process.ioPriority = { class: "BE" }), 'config.json: process.ioPriority.class: unknown I/O priority class "BE" (expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE)'],
  // capabilities
  ["capability unknown", (s) => s.process.capabilities.bounding.push("CAP_FOO"), 'config.json: process.capabilities.bounding[3]: unknown capability "CAP_FOO"'],
  ["capability without prefix", (s) => (s.process.capabilities.effective[0] = "NET_ADMIN"), 'config.json: process.capabilities.effective[0]: unknown capability "NET_ADMIN" (did you mean "CAP_NET_ADMIN"?)'],
  ["capability lower case", (s) => (s.process.capabilities.ambient = ["cap_kill"]), 'config.json: process.capabilities.ambient[0]: unknown capability "cap_kill" (did you mean "CAP_KILL"?)'],
  ["capabilities an array", (s) => (s.process.capabilities = ["CAP_KILL"]), "config.json: process.capabilities: expected an object, got array"],
  // rlimits
  ["rlimit type unknown", (s) => (s.process.rlimits[0].type = "RLIMIT_FOO"), 'config.json: process.rlimits[0].type: unknown rlimit type "RLIMIT_FOO" (expected one of RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE, RLIMIT_LOCKS, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_RSS, RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK)'],
  ["rlimit duplicate", (s) => s.process.rlimits.push({ type: "RLIMIT_NOFILE", hard: 1, soft: 1 }), 'config.json: process.rlimits[1].type: duplicate rlimit type "RLIMIT_NOFILE" (also at process.rlimits[0])'],
  ["rlimit soft > hard", (s) => (s.process.rlimits[0].soft = 2048), "config.json: process.rlimits[0]: soft limit 2048 is greater than hard limit 1024"],
  ["rlimit soft a string", (s) => (s.process.rlimits[0].soft = "1024"), "config.json: process.rlimits[0].soft: expected a non-negative integer, got string"],
  ["rlimit hard missing", (s) => delete s.process.rlimits[0].hard, "config.json: process.rlimits[0].hard: missing (expected a non-negative integer)"],
  // hostname, annotations, hooks
  ["hostname a number", (s) => (s.hostname = 42), "config.json: hostname: expected a string, got number"],
  ["hostname without uts namespace", (s) => (s.linux.namespaces = [{ type: "pid" }]), 'config.json: hostname: needs a UTS namespace (add {"type": "uts"} to linux.namespaces)'],
  ["annotation value", (s) => (s.annotations = { "org.x": 1 }), 'config.json: annotations["org.x"]: expected a string, got number'],
  ["hook path relative", (s) => (s.hooks = { prestart: [{ path: "hook" }] }), "config.json: hooks.prestart[0].path: must be an absolute path"],
  ["hook path missing", (s) => (s.hooks = { poststop: [{ args: [] }] }), "config.json: hooks.poststop[0].path: missing (expected an absolute path)"],
  ["hook timeout zero", (s) => (s.hooks = { createRuntime: [{ path: "/h", timeout: 0 }] }), "config.json: hooks.createRuntime[0].timeout: expected a positive integer, got 0"],
  ["hooks list an object", (s) => (s.hooks = { poststart: { path: "/h" } }), "config.json: hooks.poststart: expected an array, got object"],
  // linux
  ["linux an array", (s) => (s.linux = []), "config.json: linux: expected an object, got array"],
  ["namespace type unknown", (s) => (s.linux.namespaces[1].type = "foo"), 'config.json: linux.namespaces[1].type: unknown namespace type "foo" (expected one of pid, network, mount, ipc, uts, user, cgroup, time)'],
  ["namespace duplicate", (s) => s.linux.namespaces.push({ type: "pid" }), 'config.json: linux.namespaces[5].type: duplicate namespace type "pid" (also at linux.namespaces[0])'],
  ["namespace path relative", (s) => (s.linux.namespaces[1].path = "netns"), "config.json: linux.namespaces[1].path: must be an absolute path"],
  ["namespace type missing", (s) => (s.linux.namespaces[0] = {}), "config.json: linux.namespaces[0].type: missing (expected a namespace type)"],
  ["uidMappings hostID", (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: -5, size: 1 }]), "config.json: linux.uidMappings[0].hostID: expected a non-negative integer, got -5"],
  ["device type unknown", (s) => (s.linux.devices = [{ type: "x", path: "/dev/x" }]), 'config.json: linux.devices[0].type: unknown device type "x" (expected one of c, b, u, p)'],
  ["device path relative", (s) => (s.linux.devices = [{ type: "c", path: "dev/fuse", major: 10, minor: 229 }]), "config.json: linux.devices[0].path: must be an absolute path"],
  ["device major missing", (s) => (s.linux.devices = [{ type: "c", path: "/dev/fuse", minor: 229 }]), 'config.json: linux.devices[0].major: missing (expected an integer; required for device type "c")'],
  ["device minor missing", (s) => (s.linux.devices = [{ type: "u", path: "/dev/u", major: 1 }]), 'config.json: linux.devices[0].minor: missing (expected an integer; required for device type "u")'],
  ["device fileMode a string", (s) => (s.linux.devices = [{ type: "p", path: "/dev/p", fileMode: "0666" }]), "config.json: linux.devices[0].fileMode: expected a non-negative integer, got string"],
  ["rootfsPropagation unknown", (s) => (s.linux.rootfsPropagation = "recursive"), 'config.json: linux.rootfsPropagation: unknown rootfs propagation "recursive" (expected one of private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable)'],
  ["sysctl value a number", (s) => (s.linux.sysctl = { "net.ipv4.ip_forward": 1 }), 'config.json: linux.sysctl["net.ipv4.ip_forward"]: expected a string, got number'],
  ["sysctl an array", (s) => (s.linux.sysctl = ["a=b"]), "config.json: linux.sysctl: expected an object, got array"],
  ["maskedPaths relative", (s) => s.linux.maskedPaths.push("proc/x"), "config.json: linux.maskedPaths[10]: must be an absolute path"],
  ["readonlyPaths element", (s) => (s.linux.readonlyPaths[0] = false), "config.json: linux.readonlyPaths[0]: expected a string, got boolean"],
  ["timeOffsets clock", (s) => (s.linux.timeOffsets = { realtime: { secs: 1 } }), 'config.json: linux.timeOffsets.realtime: unknown clock "realtime" (expected one of boottime, monotonic)'],
  ["personality domain", (s) => (s.linux.personality = { domain: "BSD" }), 'config.json: linux.personality.domain: unknown personality domain "BSD" (expected one of LINUX, LINUX32)'],
  // linux.resources
  ["device rule allow missing", (s) => delete s.linux.resources.devices[0].allow, "config.json: linux.resources.devices[0].allow: missing (expected a boolean)"],
  ["device rule access", (s) => (s.linux.resources.devices[0].access = "rwx"), 'config.json: linux.resources.devices[0].access: expected letters from "rwm", got "rwx"'],
  ["memory.limit a string", (s) => (s.linux.resources.memory = { limit: "1G" }), "config.json: linux.resources.memory.limit: expected an integer, got string"],
  ["memory.swappiness range", (s) => (s.linux.resources.memory = { swappiness: 101 }), "config.json: linux.resources.memory.swappiness: must be at most 100, got 101"],
  ["cpu.cpus a number", (s) => (s.linux.resources.cpu = { cpus: 1 }), "config.json: linux.resources.cpu.cpus: expected a string, got number"],
  ["pids.limit missing", (s) => (s.linux.resources.pids = {}), "config.json: linux.resources.pids.limit: missing (expected an integer)"],
  ["throttle rate missing", (s) => (s.linux.resources.blockIO = { throttleWriteIOPSDevice: [{ major: 8, minor: 0 }] }), "config.json: linux.resources.blockIO.throttleWriteIOPSDevice[0].rate: missing (expected a non-negative integer)"],
  ["hugepage pageSize", (s) => (s.linux.resources.hugepageLimits = [{ limit: 1 }]), 'config.json: linux.resources.hugepageLimits[0].pageSize: missing (expected a string such as "2MB")'],
  ["unified value", (s) => (s.linux.resources.unified = { "memory.max": 5 }), 'config.json: linux.resources.unified["memory.max"]: expected a string, got number'],
  // linux.seccomp
  ["seccomp defaultAction missing", (s) => (s.linux.seccomp = {}), "config.json: linux.seccomp.defaultAction: missing (expected a SCMP_ACT_* name)"],
  ["seccomp action unknown", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "ALLOW" }] }), 'config.json: linux.seccomp.syscalls[0].action: unknown seccomp action "ALLOW" (expected one of SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY)'],
  ["seccomp names empty", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }] }), "config.json: linux.seccomp.syscalls[0].names: must be a non-empty array of strings"],
  ["seccomp arg op", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "EQ" }] }] }), 'config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "EQ" (expected one of SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)'],
  ["seccomp notify without listener", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_NOTIFY" }), "config.json: linux.seccomp.listenerPath: missing (required when an action is SCMP_ACT_NOTIFY)"],
];

for (const [name, edit, message] of cases) {
  test(`rejects: ${name}`, () => rejects(edit, message));
}

test("the first problem in document order is the one reported", () => {
  rejects((s) => {
    s.ociVersion = "x";
    s.linux.namespaces[0].type = "foo";
  }, 'config.json: ociVersion: "x" is not a SemVer version (expected e.g. "1.2.0")');
});

test("process is optional when not required", () => {
  const spec = runcSpec();
  delete spec.process;
  validateSpec(spec, "config.json", { requireProcess: false });
  // ...but still checked when present.
  spec.process = { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "." };
  assertInvalid(() => validateSpec(spec, "config.json", { requireProcess: false }), "config.json: process.cwd: must be an absolute path");
});

test("validateProcess names fields from the process document's top", () => {
  validateProcess({ user: { uid: 0, gid: 0 }, args: ["ls"], cwd: "/" }, "process.json");
  assertInvalid(
    () => validateProcess({ user: { uid: 0, gid: 0 }, args: [], cwd: "/" }, "process.json"),
    "process.json: args: must be a non-empty array of strings",
  );
  assertInvalid(() => validateProcess("ls", "process.json"), "process.json: expected an object, got string");
});

test("capabilityMask sets one bit per capability", () => {
  assert.equal(capabilityMask([], "caps"), 0n);
  assert.equal(
    capabilityMask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], "caps"),
    (1n << 29n) | (1n << 5n) | (1n << 10n),
  );
  assert.equal(capabilityMask(Object.keys(CAPABILITIES), "caps"), (1n << 41n) - 1n);
  assertInvalid(
    () => capabilityMask(["CAP_KILL", "CAP_NOPE"], "config.json: process.capabilities.bounding"),
    'config.json: process.capabilities.bounding[1]: unknown capability "CAP_NOPE"',
  );
});

test("CAPABILITIES runs from CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40) without gaps", () => {
  assert.equal(CAPABILITIES.CAP_CHOWN, 0);
  assert.equal(CAPABILITIES.CAP_SYS_ADMIN, 21);
  assert.equal(CAPABILITIES.CAP_CHECKPOINT_RESTORE, 40);
  assert.deepEqual(
    Object.values(CAPABILITIES).sort((a, b) => a - b),
    Array.from({ length: 41 }, (_, i) => i),
  );
});
