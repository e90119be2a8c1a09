// The engine as a user types it: berth run/ps/logs/exec/stop/rm/pause/volume on real
// containers from the busybox image, with nothing left behind (mounts, cgroups, runtime
// state, records, monitors) and Docker's exit codes and messages on bad input.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";
import { berthCli } from "../helpers/berth.js";

// BERTH_TEST_BIN=native/build/berth runs the same tests through the Warm path
const BERTH = process.env.BERTH_TEST_BIN ? path.resolve(REPO, process.env.BERTH_TEST_BIN) : path.join(REPO, "bin", "berth");


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("berth engine: containers from an image", { skip: rootSkip }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const { berth, ok, fails125: fails } = berthCli(BERTH, () => ({ root, runroot }));
  const fails125 = (args: string[], pattern: RegExp) => fails(args, pattern);
  const rows = () => ok(["ps", "-aq", "--no-trunc"]).split("\n").filter(Boolean);
  const mounts = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(runroot) || l.includes(root));
  const cgroups = (id: string) => ["memory", "pids", "cpu", "freezer"].filter((c) => existsSync(`/sys/fs/cgroup/${c}/berth/${id}`));
  const inspect = (ref: string) => JSON.parse(ok(["inspect", ref]))[0];

  /** nothing of container `id` is left on the host */
  const gone = (id: string) => {
    assert.deepEqual(mounts(), [], "no mounts left");
    assert.deepEqual(cgroups(id), [], "no cgroups left");
    assert.equal(existsSync(path.join(runroot, "runtime", id)), false, "no runtime state");
    assert.equal(existsSync(path.join(runroot, "containers", id)), false, "no run dir");
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-engine-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
  });
  after(() => {
    // whatever a failed test left running
    for (const id of readdirSync(path.join(root, "containers"), { withFileTypes: true }).map((d) => d.name)) berth(["rm", "-f", id]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("run --rm busybox echo hi prints hi and leaves nothing", () => {
    const r = berth(["run", "--rm", "busybox", "echo", "hi"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.stderr, "");
    assert.deepEqual(rows(), []);
    assert.deepEqual(mounts(), []);
    assert.deepEqual(readdirSync(path.join(runroot, "runtime")), []);
  });

  test("exit codes: the program's own, 127 not found, 126 not executable; stdout and stderr apart", () => {
    const r = berth(["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "out\n");
    assert.equal(r.stderr, "err\n");
    const nf = berth(["run", "--rm", "busybox", "nosuch"]);
    assert.equal(nf.code, 127);
    assert.equal(nf.stderr, 'berth: exec: "nosuch": executable file not found in $PATH\n');
    const ne = berth(["run", "--rm", "busybox", "/etc/passwd"]);
    assert.equal(ne.code, 126);
    assert.match(ne.stderr, /^berth: exec: "\/etc\/passwd": permission denied\n$/);
    assert.deepEqual(rows(), []);
    assert.deepEqual(mounts(), []);
  });

  test("the image's config and the flags: env, workdir, user, hostname, entrypoint, labels", () => {
    const out = ok(["run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "nobody", "-h", "box1", "busybox", "sh", "-c", 'echo "$A $(pwd) $(id -u):$(id -g) $(hostname) $(cat /etc/hostname) $PATH"']);
    assert.equal(out, "1 /tmp 65534:65534 box1 box1 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    assert.equal(ok(["run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint"]), "from entrypoint\n");
    // Docker's default capabilities: CAP_NET_RAW yes, CAP_SYS_ADMIN no
    const caps = ok(["run", "--rm", "busybox", "grep", "CapEff", "/proc/self/status"]);
    assert.equal(caps.trim(), "CapEff:\t00000000a80425fb");
    assert.equal(ok(["run", "--rm", "--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status"]).trim(), "CapEff:\t0000000000000000");
    // the default seccomp profile: unshare of a user namespace is refused
    const us = berth(["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert.notEqual(us.code, 0);
    assert.match(us.stderr, /Operation not permitted/);
  });

  test("run -d, logs, exec, stop and rm", async () => {
    const id = ok(["run", "-d", "--name", "ticker", "-l", "app=tick", "busybox", "sh", "-c", "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const ps = ok(["ps"]).split("\n");
    assert.match(ps[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
    assert.match(ps[1]!, new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+".*"\\s+.*ago\\s+Up .*\\s+ticker$`));
    assert.equal(ok(["ps", "--filter", "label=app=tick", "--format", "{{.Names}} {{.State}}"]), "ticker running\n");
    await sleep(500);
    const logs = ok(["logs", "ticker"]).split("\n").filter(Boolean);
    assert.ok(logs.length >= 3, logs.join("|"));
    assert.deepEqual(logs.slice(0, 3), ["tick 0", "tick 1", "tick 2"]);
    assert.equal(ok(["logs", "--tail", "1", "ticker"]).split("\n").filter(Boolean).length, 1);
    assert.match(ok(["logs", "-t", "--tail", "1", "ticker"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z tick \d+\n$/);
    // the json-file log, as Docker writes it
    const line = JSON.parse(readFileSync(path.join(root, "containers", id, `${id}-json.log`), "utf8").split("\n")[0]!);
    assert.deepEqual(Object.keys(line), ["log", "stream", "time"]);
    assert.equal(line.log, "tick 0\n");
    assert.equal(line.stream, "stdout");
    // exec: in the container's namespaces, with its environment; exit status passed on
    assert.equal(ok(["exec", "ticker", "sh", "-c", "cat /proc/1/cmdline | head -c 2; echo; hostname"]), `sh\n${id.slice(0, 12)}\n`);
    assert.equal(berth(["exec", "ticker", "sh", "-c", "exit 5"]).code, 5);
    // logs -f follows until the container stops
    const follow = spawn(BERTH, ["--root", root, "--runroot", runroot, "logs", "-f", "--tail", "0", "ticker"], { stdio: ["ignore", "pipe", "pipe"] });
    let followed = "";
    follow.stdout.on("data", (d) => (followed += d));
    const followEnd = new Promise<number>((r) => follow.on("exit", (c) => r(c ?? -1)));
    await sleep(300);
    assert.equal(ok(["stop", "ticker"]), "ticker\n");
    assert.equal(await followEnd, 0);
    assert.match(followed, /tick \d+\n/);
    assert.match(followed, /bye\n$/);
    assert.equal(inspect("ticker").State.Status, "exited");
    assert.equal(inspect("ticker").State.ExitCode, 0);
    assert.match(ok(["ps", "-a", "--format", "{{.Status}}"]), /^Exited \(0\) .* ago\n$/);
    gone(id);
    fails125(["exec", "ticker", "true"], /is not running/);
    assert.equal(ok(["rm", "ticker"]), "ticker\n");
    assert.deepEqual(rows(), []);
    assert.equal(existsSync(path.join(root, "containers", id)), false);
  });

  test("a file written in a container is not in the next one from the same image", () => {
    ok(["run", "--name", "writer", "busybox", "sh", "-c", "echo data > /root/file"]);
    assert.equal(berth(["run", "--rm", "busybox", "cat", "/root/file"]).code, 1);
    // but it is in the writer's own layer, kept until rm
    ok(["start", "-a", "writer"]);
    ok(["rm", "writer"]);
  });

  test("pause stops a counter from advancing; unpause lets it go on", async () => {
    ok(["run", "-d", "--name", "counter", "busybox", "sh", "-c", "while true; do echo x >> /tmp/n; done"]);
    await sleep(200);
    ok(["pause", "counter"]);
    assert.equal(inspect("counter").State.Status, "paused");
    const freezer = readFileSync(`/sys/fs/cgroup/freezer/berth/${inspect("counter").Id}/freezer.state`, "utf8").trim();
    assert.equal(freezer, "FROZEN");
    const rootfs = path.join(runroot, "containers", inspect("counter").Id, "rootfs");
    const size = () => readFileSync(path.join(rootfs, "tmp/n")).length;
    const a = size();
    await sleep(300);
    assert.equal(size(), a);
    fails125(["pause", "counter"], /is not running/);
    ok(["unpause", "counter"]);
    await sleep(200);
    assert.ok(size() > a);
    fails125(["rm", "counter"], /You cannot remove a running container [0-9a-f]{64}\. Stop the container before attempting removal or force remove/);
    const id = inspect("counter").Id;
    ok(["rm", "-f", "counter"]);
    gone(id);
  });

  test("--memory, --pids-limit and --cpus show in the cgroup", () => {
    const id = ok(["run", "-d", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "busybox", "sleep", "30"]).trim();
    assert.equal(readFileSync(`/sys/fs/cgroup/memory/berth/${id}/memory.limit_in_bytes`, "utf8").trim(), String(64 * 1024 * 1024));
    assert.equal(readFileSync(`/sys/fs/cgroup/pids/berth/${id}/pids.max`, "utf8").trim(), "50");
    assert.equal(readFileSync(`/sys/fs/cgroup/cpu/berth/${id}/cpu.cfs_quota_us`, "utf8").trim(), "50000");
    assert.equal(inspect(id).HostConfig.Memory, 64 * 1024 * 1024);
    ok(["rm", "-f", id]);
    gone(id);
  });

  test("bind mounts and named volumes keep data across containers; a new volume gets the image's files", () => {
    const host = path.join(dir, "host-data");
    mkdirSync(host);
    writeFileSync(path.join(host, "in"), "from the host\n");
    assert.equal(ok(["run", "--rm", "-v", `${host}:/data`, "busybox", "sh", "-c", "cat /data/in; echo back > /data/out"]), "from the host\n");
    assert.equal(readFileSync(path.join(host, "out"), "utf8"), "back\n");
    assert.equal(berth(["run", "--rm", "-v", `${host}:/data:ro`, "busybox", "touch", "/data/x"]).code, 1);
    ok(["run", "--rm", "-v", "keep:/keep", "busybox", "sh", "-c", "echo persisted > /keep/f"]);
    assert.equal(ok(["run", "--rm", "-v", "keep:/keep", "busybox", "cat", "/keep/f"]), "persisted\n");
    assert.match(ok(["volume", "ls"]), /local\s+keep/);
    // a fresh volume at /etc is filled with the image's /etc
    assert.equal(ok(["run", "--rm", "-v", "etc-copy:/etc", "busybox", "head", "-1", "/etc/passwd"]), "root:x:0:0:root:/root:/bin/sh\n");
    assert.match(readFileSync(path.join(root, "volumes", "etc-copy", "_data", "passwd"), "utf8"), /^root:/);
    // in use: refused; then removed
    const id = ok(["run", "-d", "-v", "keep:/keep", "busybox", "sleep", "30"]).trim();
    fails125(["volume", "rm", "keep"], /volume is in use/);
    ok(["rm", "-f", id]);
    assert.equal(ok(["volume", "rm", "keep", "etc-copy"]), "keep\netc-copy\n");
    assert.equal(existsSync(path.join(root, "volumes", "keep")), false);
  });

  test("a killed monitor or a lost exit record: the container shows as exited, and is cleaned up", async () => {
    const id = ok(["run", "-d", "--name", "orphan", "busybox", "sleep", "30"]).trim();
    const pid = inspect("orphan").State.Pid as number;
    // the monitor is the container's parent
    const monitor = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${monitor}/status`, "utf8"))![1]);
    assert.ok(rss > 0);
    process.kill(monitor, "SIGKILL");
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await sleep(10);
    assert.match(ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]), /^orphan Exited \(255\) /);
    ok(["rm", "orphan"]);
    gone(id);
  });

  test("log rotation: --log-opt max-size and max-file", async () => {
    const id = ok(["run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox", "sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); done"]).trim();
    assert.equal(ok(["wait", id]), "0\n");
    const files = readdirSync(path.join(root, "containers", id)).sort();
    assert.deepEqual(files, [`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2`]);
    for (const f of files) assert.ok(readFileSync(path.join(root, "containers", id, f)).length <= 2048);
    const lines = ok(["logs", id]).trim().split("\n");
    assert.equal(lines.at(-1), "line 399");
    ok(["rm", id]);
  });

  describe("bad input: exit 125, one line, nothing half-made", () => {
    test("unknown image, bad flags, a name in use", () => {
      fails125(["run", "--rm", "--pull", "never", "nosuch:1"], /^berth: Unable to find image 'nosuch:1' locally$/m);
      fails125(["run", "--rm", "--memory", "10xb", "busybox", "true"], /--memory "10xb": expected a size such as 64m/);
      fails125(["run", "--rm", "-v", "./rel:/data", "busybox", "true"], /a host path must be absolute/);
      fails125(["run", "--rm", "-v", `${dir}/does-not-exist:/data`, "busybox", "true"], /bind source path does not exist/);
      fails125(["run", "--rm", "--network", "bridge0", "busybox", "true"], /^berth: network bridge0 not found$/m);
      fails125(["run", "--rm", "--cap-add", "FLY", "busybox", "true"], /--cap-add FLY: not a capability/);
      ok(["create", "--name", "taken", "busybox", "true"]);
      fails125(["run", "--name", "taken", "busybox", "true"], /Conflict\. The container name "\/taken" is already in use by container "[0-9a-f]{64}"/);
      fails125(["logs", "nosuch"], /No such container: nosuch/);
      fails125(["stop", "nosuch"], /No such container: nosuch/);
      ok(["rm", "taken"]);
      assert.deepEqual(rows(), []);
      assert.deepEqual(mounts(), []);
      assert.deepEqual(readdirSync(path.join(root, "containers")), []);
      assert.deepEqual(readdirSync(path.join(root, "snapshots", "overlay", "active")), []);
    });
  });
});
