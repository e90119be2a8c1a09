// System containers (berth run --systemd): what systemd as PID 1 is given, checked on a
// busybox image with an /sbin/init — tmpfs /run, /run/lock and /tmp, its own name=systemd
// cgroup writable while the controllers stay read-only, container=berth, a machine-id of its
// own, SIGRTMIN+3 as the stop signal, its journal in berth logs — and bad input. Debian with
// systemd is bootstrapped from the packages ./scripts/setup keeps (debootstrap
// --make-tarball), so nothing is fetched beyond loopback; BERTH_TEST_DEBIAN=1 debootstraps
// from the mirror instead.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";
import { berthCli } from "../helpers/berth.js";

const BERTH = path.join(REPO, "bin", "berth");
const v1Systemd = existsSync("/sys/fs/cgroup/systemd/cgroup.procs");

describe("berth run --systemd", { skip: rootSkip }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const { berth, ok, fails125 } = berthCli(BERTH, () => ({ root, runroot }), 20 * 60_000);
  const ids = () => ok(["ps", "-aq", "--no-trunc"]).split("\n").filter(Boolean).sort();

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-systemd-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
    // an image with an /sbin/init (busybox's), as a systemd image has
    ok(["run", "--name", "base", "--network", "none", "busybox", "sh", "-c", "mkdir /sbin && ln -s /bin/busybox /sbin/init"]);
    ok(["commit", "base", "fake-init:1"]);
    ok(["rm", "base"]);
  });
  after(() => {
    for (const id of ids()) berth(["rm", "-f", id]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("--systemd=always: tmpfs /run, /run/lock, /tmp; container=berth; its own machine-id; its name=systemd cgroup writable, the controllers not", () => {
    const script = [
      "echo container=$container",
      "grep -E ' (/run|/run/lock|/tmp) ' /proc/mounts | cut -d' ' -f1-3",
      "echo machine-id=$(cat /etc/machine-id) hostname=$(hostname)",
      "mkdir /sys/fs/cgroup/memory/probe 2>/dev/null && echo memory-writable || echo memory-read-only",
      ...(v1Systemd ? ["mkdir /sys/fs/cgroup/systemd/probe && echo systemd-writable && rmdir /sys/fs/cgroup/systemd/probe"] : []),
    ].join("; ");
    const out = ok(["run", "--rm", "--network", "none", "--systemd", "always", "fake-init:1", "sh", "-c", script]);
    assert.match(out, /^container=berth$/m);
    for (const m of ["/run", "/run/lock", "/tmp"]) assert.match(out, new RegExp(`^tmpfs ${m} tmpfs$`, "m"));
    const mid = /machine-id=([0-9a-f]{32}) hostname=([0-9a-f]{12})/.exec(out);
    assert.ok(mid, out);
    assert.ok(mid[1]!.startsWith(mid[2]!), "the machine-id is the container's ID's first 32 hex digits");
    assert.match(out, /^memory-read-only$/m);
    if (v1Systemd) assert.match(out, /^systemd-writable$/m);
    // without --systemd and with a command that is not systemd: none of it
    const plain = ok(["run", "--rm", "--network", "none", "fake-init:1", "sh", "-c", "echo container=$container; grep -c ' /run tmpfs' /proc/mounts || true"]);
    assert.equal(plain, "container=\n0\n");
  });

  test("its journal reaches berth logs: journald's drop-in forwards to /dev/kmsg, a FIFO the monitor logs without the <priority>", () => {
    const script = [
      "test -p /dev/kmsg && echo kmsg-is-a-fifo",
      "grep -E '^(ForwardToKMsg|MaxLevelKMsg|ReadKMsg)=' /run/systemd/journald.conf.d/zz-berth.conf",
      // what journald writes for a record: one write, "<priority>identifier[pid]: message"
      "printf '<30>demo[7]: Started the demo service.\\n' > /dev/kmsg",
      "printf '<4>demo[7]: a warning\\n' > /dev/kmsg",
    ].join("; ");
    ok(["run", "--name", "journal", "--network", "none", "--systemd", "always", "fake-init:1", "sh", "-c", script]);
    const lines = ok(["logs", "journal"]).split("\n");
    assert.deepEqual(lines.filter((l) => !l.startsWith("demo")), ["kmsg-is-a-fifo", "ForwardToKMsg=yes", "MaxLevelKMsg=info", "ReadKMsg=no", ""]);
    assert.deepEqual(lines.filter((l) => l.startsWith("demo")), ["demo[7]: Started the demo service.", "demo[7]: a warning"]);
    // the run dir's FIFO and drop-in go with the container; without --systemd there is neither
    const id = JSON.parse(ok(["inspect", "journal"]))[0].Id as string;
    ok(["rm", "journal"]);
    assert.ok(!existsSync(path.join(runroot, "containers", id)));
    assert.equal(ok(["run", "--rm", "--network", "none", "fake-init:1", "sh", "-c", "test -e /dev/kmsg || echo no-kmsg"]), "no-kmsg\n");
  });

  test("the default (true) turns it on for /sbin/init, with SIGRTMIN+3 to stop it; --stop-signal wins; its cgroup goes with it", () => {
    ok(["create", "--name", "booted", "--network", "none", "fake-init:1", "/sbin/init"]);
    ok(["create", "--name", "term", "--network", "none", "--stop-signal", "SIGTERM", "fake-init:1", "/sbin/init"]);
    ok(["create", "--name", "off", "--network", "none", "--systemd", "false", "fake-init:1", "/sbin/init"]);
    const signal = (n: string) => JSON.parse(ok(["inspect", n]))[0].Config.StopSignal ?? "";
    assert.equal(signal("booted"), "SIGRTMIN+3");
    assert.equal(signal("term"), "SIGTERM");
    assert.equal(signal("off"), "SIGTERM", "Docker's default");
    // busybox init as PID 1 of a prepared container: it runs, and stop ends it
    ok(["start", "booted"]);
    const id = JSON.parse(ok(["inspect", "booted"]))[0].Id as string;
    if (v1Systemd) assert.ok(existsSync(`/sys/fs/cgroup/systemd/berth/${id}`), "its name=systemd cgroup");
    assert.match(ok(["exec", "booted", "cat", "/proc/1/environ"]), /container=berth/);
    ok(["rm", "-f", "booted", "term", "off"]);
    if (v1Systemd) assert.ok(!existsSync(`/sys/fs/cgroup/systemd/berth/${id}`), "removed with the container");
  });

  test("bad input: --systemd=always on an image without systemd, an unknown mode: one line, exit 125, nothing made", () => {
    const before = ids();
    const snapshots = () => readdirSync(path.join(root, "snapshots"), { recursive: true }).length;
    const count = snapshots();
    fails125(["run", "--rm", "--systemd", "always", "busybox", "true"], /^berth: --systemd=always: image busybox has no systemd \(none of \/usr\/lib\/systemd\/systemd, /);
    fails125(["create", "--systemd", "maybe", "busybox", "true"], /^berth: --systemd "maybe": expected true, false or always\n$/);
    fails125(["bootstrap", "debian", "--systemd", "--tarball", path.join(dir, "none.tgz")], /^berth: bootstrap debian: --tarball \S+none\.tgz: no such file \(expected the packages from debootstrap --make-tarball\)\n$/);
    assert.deepEqual(ids(), before);
    assert.equal(snapshots(), count);
  });

  const fromMirror = process.env.BERTH_TEST_DEBIAN === "1";
  const DEBS = "/var/cache/berth/debian-bookworm-systemd.debs.tgz";
  const debianSkip = spawnSync("debootstrap", ["--version"]).error
    ? "debootstrap is not installed (./scripts/setup installs it)"
    : !fromMirror && !existsSync(DEBS)
      ? `no ${DEBS} (./scripts/setup makes it; or set BERTH_TEST_DEBIAN=1 to debootstrap from the mirror)`
      : false;
  test("bootstrap debian --systemd boots: systemctl is-system-running says running (or degraded), exec works, stop halts it cleanly", { skip: debianSkip }, () => {
    ok(["bootstrap", "debian", "--systemd", "-q", ...(fromMirror ? [] : ["--tarball", DEBS])]);
    const [img] = JSON.parse(ok(["image", "inspect", "debian-systemd:bookworm"]));
    assert.deepEqual(img.Config.Cmd, ["/sbin/init"]);
    ok(["run", "-d", "--name", "m1", "debian-systemd:bookworm"]);
    const state = berth(["exec", "m1", "systemctl", "is-system-running", "--wait"]);
    assert.match(state.stdout, /^(running|degraded)\n$/, state.stdout + state.stderr);
    assert.match(ok(["exec", "m1", "systemctl", "status", "--no-pager"]), /State: (running|degraded)/);
    // the journal, in the container's log: PID 1's records and a program's own
    ok(["exec", "m1", "logger", "-t", "berth-test", "hello from the journal"]);
    const logs = () => ok(["logs", "m1"]);
    for (let i = 0; i < 50 && !/^berth-test\[\d+\]: hello from the journal$/m.test(logs()); i++) spawnSync("sleep", ["0.1"]);
    assert.match(logs(), /^berth-test\[\d+\]: hello from the journal$/m);
    assert.match(logs(), /^systemd\[1\]: Reached target multi-user\.target/m);
    const machineId = ok(["exec", "m1", "cat", "/etc/machine-id"]).trim();
    assert.ok((JSON.parse(ok(["inspect", "m1"]))[0].Id as string).startsWith(machineId));
    assert.equal(ok(["stop", "m1"]), "m1\n");
    const st = JSON.parse(ok(["inspect", "m1"]))[0].State;
    assert.equal(st.Status, "exited");
    assert.equal(st.ExitCode, 0, "systemd halted on SIGRTMIN+3 rather than being killed");
    assert.match(logs(), /^systemd\[1\]: Shutting down\.$/m, "the shutdown is in the log too");
    ok(["rm", "m1"]);
  });
});
