// berth-oci run on a real kernel: every config feature of the foundation, observed from
// inside a busybox container.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type Sandbox, rootSkip, sandbox } from "../helpers/oci.js";
import type { Spec } from "../../src/oci/runtime-spec.js";

for (const mode of ["direct", "warm"] as const)
describe(`berth-oci run: config features (${mode})`, { skip: rootSkip }, () => {
  let box: Sandbox;
  before(() => {
    box = sandbox(mode);
  });
  after(() => box?.cleanup());

  let n = 0;
  /** runs `script` in a fresh container built from the default config changed by `edit` */
  function run(script: string, edit?: (s: Spec) => void) {
    const name = `c${n++}`;
    const bundle = box.bundle(name, (s) => {
      s.process!.args = ["sh", "-c", script];
      edit?.(s);
    });
    return box.oci(["run", "--bundle", bundle, name]);
  }

  test("the process is PID 1 of its own pid namespace and its exit code is propagated", () => {
    const r = run("echo pid=$$; exit 7");
    assert.equal(r.stdout, "pid=1\n");
    assert.equal(r.code, 7);
    assert.equal(r.stderr, "");
  });

  test("hostname and domainname are the container's own", () => {
    const r = run("hostname; cat /proc/sys/kernel/domainname", (s) => {
      s.hostname = "box1";
      s.domainname = "example.test";
    });
    assert.equal(r.stdout, "box1\nexample.test\n");
  });

  test("args, env, cwd and user (uid, gid, additionalGids) reach the process", () => {
    const r = run('echo "$GREETING"; pwd; id -u; id -g; id -G', (s) => {
      s.process!.env = ["PATH=/bin", "GREETING=hello world"];
      s.process!.cwd = "/tmp";
      s.process!.user = { uid: 1000, gid: 1001, additionalGids: [2000, 2001] };
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hello world\n/tmp\n1000\n1001\n1001 2000 2001\n");
  });

  test("umask applies to files the process creates", () => {
    const r = run("cd /tmp && touch f && stat -c %a f", (s) => {
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid"] });
      s.process!.user.umask = 0o077;
    });
    assert.equal(r.stdout, "600\n");
  });

  test("the mount table holds the config's mounts", () => {
    const r = run("cat /proc/self/mounts");
    const mounts = r.stdout.split("\n").map((l) => l.split(" "));
    const at = (dest: string) => mounts.find((m) => m[1] === dest);
    assert.equal(at("/proc")?.[2], "proc");
    assert.equal(at("/dev")?.[2], "tmpfs");
    assert.equal(at("/dev/pts")?.[2], "devpts");
    assert.equal(at("/dev/shm")?.[2], "tmpfs");
    assert.equal(at("/dev/mqueue")?.[2], "mqueue");
    assert.equal(at("/sys")?.[2], "sysfs");
    assert.match(at("/sys")?.[3] ?? "", /^ro,/);
    assert.equal(at("/")?.[3].split(",")[0], "ro");
  });

  test("bind mounts: read-write, read-only, and a single file", () => {
    const data = path.join(box.dir, "data");
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, "in.txt"), "from host\n");
    const file = path.join(box.dir, "single.txt");
    writeFileSync(file, "one file\n");
    const r = run("cat /data/in.txt; echo out > /data/out.txt; echo x > /ro/y 2>/dev/null || echo ro-refused; cat /etc/single.txt", (s) => {
      s.mounts!.push({ destination: "/data", type: "bind", source: data, options: ["rbind", "rw"] });
      s.mounts!.push({ destination: "/ro", type: "bind", source: data, options: ["bind", "ro"] });
      s.mounts!.push({ destination: "/etc/single.txt", type: "bind", source: file, options: ["bind", "ro"] });
    });
    assert.equal(r.stdout, "from host\nro-refused\none file\n", r.stderr);
    assert.equal(readFileSync(path.join(data, "out.txt"), "utf8"), "out\n");
  });

  test("tmpfs mount with size and mode options", () => {
    const r = run("stat -c %a /scratch; grep ' /scratch ' /proc/self/mounts", (s) => {
      s.mounts!.push({ destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=1m"] });
    });
    assert.match(r.stdout, /^1777\ntmpfs \/scratch tmpfs rw,nosuid,nodev,relatime,size=1024k /);
  });

  test("a read-only root refuses writes; readonlyPaths refuse writes; maskedPaths read empty", () => {
    const r = run(
      "touch /newfile 2>/dev/null || echo root-ro; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo sys-ro; cat /proc/keys | wc -c; ls /proc/acpi | wc -l",
    );
    assert.equal(r.stdout, "root-ro\nsys-ro\n0\n0\n");
  });

  test("a writable root accepts writes", () => {
    const r = run("touch /tmp/w && echo ok; rm /tmp/w", (s) => {
      s.root!.readonly = false;
    });
    assert.equal(r.stdout, "ok\n");
  });

  test("capabilities: CapEff, CapPrm, CapBnd, CapInh, CapAmb and NoNewPrivs", () => {
    const r = run("grep -E '^(Cap|NoNewPrivs)' /proc/self/status", (s) => {
      s.process!.capabilities = {
        bounding: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        effective: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        inheritable: ["CAP_KILL"],
        ambient: ["CAP_KILL"],
      };
      s.process!.noNewPrivileges = true;
    });
    const status = Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split(/:\s+/)));
    // CAP_KILL = 5, CAP_NET_BIND_SERVICE = 10, CAP_CHOWN = 0
    assert.equal(status.CapEff, "0000000000000420");
    assert.equal(status.CapPrm, "0000000000000420");
    assert.equal(status.CapBnd, "0000000000000421");
    assert.equal(status.CapInh, "0000000000000020");
    assert.equal(status.CapAmb, "0000000000000020");
    assert.equal(status.NoNewPrivs, "1");
  });

  test("a non-root user keeps capabilities across exec only through the ambient set", () => {
    const caps = { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"], inheritable: ["CAP_KILL"] };
    const withAmbient = run("grep CapEff /proc/self/status; id -u", (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.capabilities = { ...caps, ambient: ["CAP_KILL"] };
    });
    assert.equal(withAmbient.stdout, "CapEff:\t0000000000000020\n1000\n", withAmbient.stderr);
    const without = run("grep CapEff /proc/self/status", (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.capabilities = caps;
    });
    assert.equal(without.stdout, "CapEff:\t0000000000000000\n");
  });

  test("rlimits are set", () => {
    const r = run("ulimit -n; ulimit -Hn; ulimit -c", (s) => {
      s.process!.rlimits = [
        { type: "RLIMIT_NOFILE", soft: 512, hard: 900 },
        { type: "RLIMIT_CORE", soft: 0, hard: 0 },
      ];
    });
    assert.equal(r.stdout, "512\n900\n0\n", r.stderr);
  });

  test("oomScoreAdj is applied", () => {
    const r = run("cat /proc/self/oom_score_adj", (s) => {
      s.process!.oomScoreAdj = 300;
    });
    assert.equal(r.stdout, "300\n");
  });

  test("sysctl in the container's own network namespace", () => {
    const hostBefore = readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
    const r = run("cat /proc/sys/net/ipv4/ip_forward; ip link show lo | grep -c UP", (s) => {
      s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
      s.linux!.readonlyPaths = [];
    });
    assert.equal(r.stdout, "1\n1\n");
    assert.equal(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"), hostBefore, "the host's value is untouched");
  });

  test("default devices and linux.devices exist with the right numbers; /dev/null works", () => {
    const r = run("stat -c '%n %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse; echo x > /dev/null && head -c 4 /dev/zero | wc -c; readlink /dev/fd; readlink /dev/ptmx", (s) => {
      s.linux!.devices = [{ path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o640, uid: 0, gid: 0 }];
    });
    assert.equal(
      r.stdout,
      "/dev/null 1:3 666\n/dev/zero 1:5 666\n/dev/full 1:7 666\n/dev/random 1:8 666\n/dev/urandom 1:9 666\n/dev/tty 5:0 666\n/dev/fuse a:e5 640\n4\n/proc/self/fd\npts/ptmx\n",
    );
  });

  test("cgroup limits are written and visible inside the container", () => {
    const r = run(
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares",
      (s) => {
        s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 42 }, cpu: { quota: 50000, period: 100000, shares: 512 } };
      },
    );
    assert.equal(r.stdout, "67108864\n42\n50000\n512\n", r.stderr);
  });

  test("memory reservation and swap, cpuset and a relative cgroupsPath land in the host's cgroup files", () => {
    const name = `rel-${process.pid}-${mode}`;
    const b = box.bundle("cg-" + mode, (s) => {
      s.process!.args = ["sleep", "30"];
      s.linux!.cgroupsPath = name;
      s.linux!.resources = { memory: { limit: 96 * 1024 * 1024, reservation: 32 * 1024 * 1024, swap: 128 * 1024 * 1024 }, cpu: { cpus: "0" } };
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, name]).code, 0);
    try {
      const pid = JSON.parse(box.oci(["state", name]).stdout).pid as number;
      // relative to the caller's own cgroup in each hierarchy
      const memLine = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /:memory:/.test(l))!;
      const own = readFileSync("/proc/self/cgroup", "utf8").split("\n").find((l) => /:memory:/.test(l))!.split(":")[2];
      assert.equal(memLine.split(":")[2], path.posix.join(own, name));
      const dir = path.join("/sys/fs/cgroup/memory", own, name);
      assert.equal(readFileSync(path.join(dir, "memory.limit_in_bytes"), "utf8").trim(), String(96 * 1024 * 1024));
      assert.equal(readFileSync(path.join(dir, "memory.soft_limit_in_bytes"), "utf8").trim(), String(32 * 1024 * 1024));
      assert.equal(readFileSync(path.join(dir, "memory.memsw.limit_in_bytes"), "utf8").trim(), String(128 * 1024 * 1024));
      const cpusetLine = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /:cpuset:/.test(l))!;
      assert.equal(readFileSync(path.join("/sys/fs/cgroup/cpuset", cpusetLine.split(":")[2], "cpuset.cpus"), "utf8").trim(), "0");
      assert.equal(readFileSync(`/proc/${pid}/status`, "utf8").match(/Cpus_allowed_list:\s+(\S+)/)![1], "0");
    } finally {
      box.oci(["delete", "--force", name]);
    }
  });

  test("the devices cgroup: a device outside the allow list cannot be opened; an allowed one can", () => {
    // /dev/loop-control (c 10:237): opening it needs no capability, only the device cgroup's leave
    const bind = (s: Spec) => s.mounts!.push({ destination: "/dev/loop-control", type: "bind", source: "/dev/loop-control", options: ["bind"] });
    const script = "(exec 3</dev/loop-control) && echo opened || echo refused";
    const denied = run(script, bind);
    assert.equal(denied.stdout, "refused\n");
    assert.match(denied.stderr, /Operation not permitted/);
    const allowed = run(script, (s) => {
      bind(s);
      s.linux!.resources = { devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 10, minor: 237, access: "r" }] };
    });
    assert.equal(allowed.stdout, "opened\n", allowed.stderr);
  });

  test("a time namespace with a boottime offset moves the container's uptime; the host's stays", () => {
    const r = run("cut -d. -f1 /proc/uptime", (s) => {
      s.linux!.namespaces!.push({ type: "time" });
      s.linux!.timeOffsets = { boottime: { secs: 10_000_000 } };
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Number(r.stdout) > 10_000_000, r.stdout);
    assert.ok(Number(readFileSync("/proc/uptime", "utf8").split(".")[0]) < 10_000_000);
  });

  test("linux.personality LINUX32 makes uname report a 32-bit machine", () => {
    const r = run("uname -m", (s) => {
      s.linux!.personality = { domain: "LINUX32" };
    });
    assert.equal(r.stdout, "i686\n", r.stderr);
  });

  test("seccomp: a blocked syscall fails with the profile's errno, others pass; exec gets the same filter", () => {
    const profile = (s: Spec) => {
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
      s.linux!.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        syscalls: [
          { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
          { names: ["sethostname"], action: "SCMP_ACT_ERRNO" },
        ],
      };
    };
    for (const nnp of [true, false]) {
      const r = run("mkdir /tmp/x 2>&1; hostname other 2>&1; touch /tmp/f && echo touched; grep Seccomp: /proc/self/status", (s) => {
        profile(s);
        s.process!.noNewPrivileges = nnp;
        s.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
        s.process!.capabilities!.effective!.push("CAP_SYS_ADMIN");
        s.process!.capabilities!.permitted!.push("CAP_SYS_ADMIN");
      });
      assert.equal(
        r.stdout,
        "mkdir: can't create directory '/tmp/x': Permission denied\nhostname: sethostname: Operation not permitted\ntouched\nSeccomp:\t2\n",
        `noNewPrivileges ${nnp}: ${r.stderr}`,
      );
    }
    const b = box.bundle(`sc-${mode}`, (s) => {
      profile(s);
      s.process!.args = ["sleep", "30"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, `sc-${mode}`]).code, 0);
    try {
      const e = box.oci(["exec", `sc-${mode}`, "sh", "-c", "mkdir /tmp/y 2>&1; grep Seccomp: /proc/self/status"]);
      assert.equal(e.stdout, "mkdir: can't create directory '/tmp/y': Permission denied\nSeccomp:\t2\n", e.stderr);
    } finally {
      box.oci(["delete", "-f", `sc-${mode}`]);
    }
  });

  test("seccomp: a profile with an unknown action is refused before anything is made", () => {
    const b = box.bundle(`badsc-${mode}`, (s) => {
      s.linux!.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_EXPLODE" }] };
    });
    const r = box.oci(["create", "--bundle", b, "badsc"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^berth-oci: config\.json: linux\.seccomp\.syscalls\[0\]\.action: .*"SCMP_ACT_EXPLODE".*\n$/);
  });

  test("the pids limit is enforced", () => {
    const r = run("for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all-started", (s) => {
      s.linux!.resources = { pids: { limit: 4 } };
    });
    assert.doesNotMatch(r.stdout, /all-started/);
    assert.match(r.stderr, /can't fork: Resource temporarily unavailable/);
    assert.notEqual(r.code, 0);
  });

  test("namespaces joined by path: a second container shares the first one's uts and network namespaces", () => {
    const first = box.bundle("ns-first", (s) => {
      s.hostname = "shared-host";
      s.process!.args = ["sleep", "30"];
    });
    assert.equal(box.oci(["run", "--detach", "--bundle", first, "ns-first"]).code, 0);
    try {
      const pid = JSON.parse(box.oci(["state", "ns-first"]).stdout).pid as number;
      const r = run("hostname; readlink /proc/self/ns/uts", (s) => {
        s.hostname = undefined;
        s.linux!.namespaces = s.linux!.namespaces!.map((ns) =>
          ns.type === "uts" || ns.type === "network" ? { type: ns.type, path: `/proc/${pid}/ns/${ns.type === "uts" ? "uts" : "net"}` } : ns,
        );
      });
      assert.equal(r.stdout.split("\n")[0], "shared-host", r.stderr);
    } finally {
      box.oci(["delete", "--force", "ns-first"]);
    }
  });

  test("annotations appear in state", () => {
    const b = box.bundle("annotated", (s) => {
      s.process!.args = ["sleep", "30"];
      s.annotations = { "org.example.key": "value" };
    });
    assert.equal(box.oci(["create", "--bundle", b, "annotated"]).code, 0);
    try {
      const st = JSON.parse(box.oci(["state", "annotated"]).stdout);
      assert.deepEqual(st.annotations, { "org.example.key": "value" });
      assert.equal(st.bundle, b);
    } finally {
      box.oci(["delete", "--force", "annotated"]);
    }
  });

  test("rootfsPropagation unbindable is applied to the new root", () => {
    const r = run("grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo", (s) => {
      s.linux!.rootfsPropagation = "unbindable";
    });
    assert.match(r.stdout, /unbindable/, r.stderr);
  });

  test("a hostname in a uts namespace joined by path sets that namespace's name", () => {
    const first = box.bundle(`utsowner`, (s) => {
      s.process!.args = ["sleep", "30"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", first, "utsowner"]).code, 0);
    try {
      const pid = JSON.parse(box.oci(["state", "utsowner"]).stdout).pid as number;
      const r = run("hostname", (s) => {
        s.hostname = "renamed";
        s.linux!.namespaces = s.linux!.namespaces!.map((ns) => (ns.type === "uts" ? { type: "uts", path: `/proc/${pid}/ns/uts` } : ns));
      });
      assert.equal(r.stdout, "renamed\n", r.stderr);
      assert.equal(box.oci(["exec", "utsowner", "hostname"]).stdout, "renamed\n");
    } finally {
      box.oci(["delete", "-f", "utsowner"]);
    }
  });

  test("rootfsPropagation: shared gives the root a peer group, the default does not", () => {
    const shared = run("grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo", (s) => {
      s.linux!.rootfsPropagation = "shared";
    });
    assert.match(shared.stdout, /shared:\d+/, shared.stderr);
    const dflt = run("grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo");
    assert.doesNotMatch(dflt.stdout, /shared:/);
  });
});
