// exec and terminals on a real kernel: a new process in every namespace of a running
// container; a pty sent over --console-socket; run -t proxying the caller's terminal.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip, type Sandbox, sandbox } from "../helpers/oci.js";

const RECVTTY = path.join(REPO, "native", "build", "recvtty");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** starts recvtty on a socket and resolves once it listens; `done` gives its output */
async function consoleReceiver(sock: string, input?: string) {
  const child = spawn(RECVTTY, input === undefined ? [sock] : [sock, input], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  for (let i = 0; i < 200 && !err.includes("ready"); i++) await sleep(5);
  const done = new Promise<{ out: string; err: string }>((r) => child.on("close", () => r({ out, err })));
  return { done, kill: () => child.kill() };
}

for (const mode of ["direct", "warm"] as const)
describe(`berth-oci exec and terminals (${mode})`, { skip: rootSkip }, () => {
  let box: Sandbox;
  before(() => {
    box = sandbox(mode);
  });
  after(() => box?.cleanup());
  const state = (id: string) => JSON.parse(box.oci(["state", id]).stdout) as { status: string; pid: number };

  function running(name: string, edit?: Parameters<Sandbox["bundle"]>[1]) {
    const b = box.bundle(name, (s) => {
      s.process!.args = ["sleep", "100"];
      s.hostname = `${name}-host`;
      edit?.(s);
    });
    const r = box.oci(["run", "-d", "--bundle", b, name]);
    assert.equal(r.code, 0, r.stderr);
    return b;
  }

  test("exec joins the container's namespaces and cgroup, and propagates the exit code", () => {
    running("ex");
    try {
      const init = state("ex").pid;
      const r = box.oci(["exec", "ex", "sh", "-c", "hostname; echo $$; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; readlink /proc/self/ns/net; grep memory /proc/self/cgroup; grep memory /proc/1/cgroup; exit 3"]);
      assert.equal(r.code, 3, r.stderr);
      const [host, pid, pidNs, mntNs, netNs, mem, initMem] = r.stdout.trim().split("\n");
      assert.equal(host, "ex-host");
      assert.notEqual(pid, "1");
      assert.equal(pidNs, readlinkSync(`/proc/${init}/ns/pid`));
      assert.equal(mntNs, readlinkSync(`/proc/${init}/ns/mnt`));
      assert.equal(netNs, readlinkSync(`/proc/${init}/ns/net`));
      assert.equal(mem, initMem, "the same memory cgroup as the init");
      const hostView = readFileSync(`/proc/${init}/cgroup`, "utf8").split("\n").find((l) => l.includes(":memory:"))!;
      const execPid = JSON.parse(box.oci(["ps", "-f", "json", "ex"]).stdout) as number[];
      assert.equal(execPid.length, 1, "the exec'd process is gone and was in the container's cgroup");
      assert.match(hostView, /:memory:\/.+/);
    } finally {
      box.oci(["delete", "-f", "ex"]);
    }
  });

  test("exec flags: --env, --cwd, --user, --additional-gids, --cap, --no-new-privs", () => {
    running("flags");
    try {
      const r = box.oci(["exec", "--env", "GREETING=hi", "--cwd", "/tmp", "--user", "1000:1001", "-g", "5", "--cap", "CAP_CHOWN", "--no-new-privs", "flags", "sh", "-c", 'echo $GREETING; pwd; id -u; id -G; grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.deepEqual(lines.slice(0, 4), ["hi", "/tmp", "1000", "1001 5"]);
      // CAP_CHOWN (bit 0) joins the container's bounding set
      assert.equal(BigInt("0x" + lines[4].split(/\s+/)[1]) & 1n, 1n);
      assert.equal(lines[5], "NoNewPrivs:\t1");
    } finally {
      box.oci(["delete", "-f", "flags"]);
    }
  });

  test("exec --process runs a process.json; -d returns at once and --pid-file names it; ps lists it", async () => {
    running("pj");
    try {
      const pj = path.join(box.dir, "process.json");
      writeFileSync(pj, JSON.stringify({ args: ["sleep", "77"], cwd: "/", user: { uid: 0, gid: 0 }, env: ["PATH=/bin"] }));
      const pidFile = path.join(box.dir, "exec.pid");
      const r = box.oci(["exec", "-d", "--pid-file", pidFile, "--process", pj, "pj"]);
      assert.equal(r.code, 0, r.stderr);
      const pid = Number(readFileSync(pidFile, "utf8"));
      // -d returns once the process exists; its execve may still be a moment away (runc's too)
      let cmdline = "";
      for (let i = 0; i < 200 && !/^sleep\0+77/.test(cmdline); i++) {
        if (i) await new Promise((r) => setTimeout(r, 10));
        cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      }
      assert.match(cmdline, /^sleep\0+77/);
      const pids = JSON.parse(box.oci(["ps", "-f", "json", "pj"]).stdout) as number[];
      assert.ok(pids.includes(pid), "ps lists the exec'd process");
    } finally {
      box.oci(["delete", "-f", "pj"]);
    }
  });

  test("exec into a stopped container, or of a missing program, fails with one line", async () => {
    const b = box.bundle("gone", (s) => {
      s.process!.args = ["true"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "gone"]).code, 0);
    for (let i = 0; i < 200 && state("gone").status !== "stopped"; i++) await sleep(10);
    const r = box.oci(["exec", "gone", "true"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'berth-oci: container "gone" is not running (status: stopped)\n');
    box.oci(["delete", "gone"]);
    running("miss");
    try {
      const m = box.oci(["exec", "miss", "no-such-program"]);
      assert.equal(m.code, 1);
      assert.equal(m.stderr, 'berth-oci: exec: "no-such-program": no such file or directory\n');
    } finally {
      box.oci(["delete", "-f", "miss"]);
    }
  });

  test("process.terminal with --console-socket: the pty master reaches the socket, with consoleSize", async () => {
    const sock = path.join(box.dir, `console-${mode}.sock`);
    const rx = await consoleReceiver(sock, "typed\r");
    const b = box.bundle("tty", (s) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 33, width: 101 };
      s.process!.args = ["sh", "-c", "tty; stty size; read line; echo got $line"];
    });
    const c = box.oci(["create", "--bundle", b, "--console-socket", sock, "tty"]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(box.oci(["start", "tty"]).code, 0);
    const { out, err } = await rx.done;
    assert.match(err, /size 33x101/);
    assert.match(out, /\/dev\/pts\/0\r\n33 101\r\n/);
    assert.match(out, /got typed\r\n/);
    box.oci(["delete", "-f", "tty"]);
  });

  test("exec -t with --console-socket gives the new process its own pty", async () => {
    running("ext");
    try {
      const sock = path.join(box.dir, `exec-console-${mode}.sock`);
      const rx = await consoleReceiver(sock);
      const r = box.oci(["exec", "-t", "--console-socket", sock, "ext", "sh", "-c", "tty"]);
      assert.equal(r.code, 0, r.stderr);
      const { out } = await rx.done;
      assert.match(out, /^\/dev\/pts\/\d+\r\n$/);
    } finally {
      box.oci(["delete", "-f", "ext"]);
    }
  });

  test("run with a terminal in the foreground proxies the caller's terminal", () => {
    const b = box.bundle("fgtty", (s) => {
      s.process!.terminal = true;
      s.process!.args = ["sh", "-c", "tty; stty size; read line; echo got $line; exit 4"];
    });
    const cmd = `stty rows 40 cols 120; ${box.binary} --root ${box.root} run --bundle ${b} fgtty; echo exit=$?`;
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { input: "hello\n", encoding: "utf8", env: box.env, timeout: 30_000 });
    assert.match(r.stdout, /\/dev\/pts\/0\r\n40 120\r\n/);
    assert.match(r.stdout, /got hello\r\n/);
    assert.match(r.stdout, /exit=4/);
    assert.equal(existsSync(path.join(box.root, "fgtty")), false);
  });

  test("a terminal without a console socket for a detached container, or a missing socket, is refused", () => {
    const b = box.bundle("nosock", (s) => {
      s.process!.terminal = true;
    });
    const r = box.oci(["create", "--bundle", b, "nosock"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "berth-oci: process.terminal: a detached container needs --console-socket to receive its terminal\n");
    const missing = path.join(box.dir, "no-such.sock");
    const m = box.oci(["create", "--bundle", b, "--console-socket", missing, "nosock"]);
    assert.equal(m.code, 1);
    assert.equal(m.stderr, `berth-oci: connect to console socket ${missing}: no such file or directory\n`);
    assert.equal(existsSync(path.join(box.root, "nosock")), false);
  });
});
