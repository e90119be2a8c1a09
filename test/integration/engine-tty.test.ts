// Interactive containers as a user at a terminal sees them: berth run -it, attach with its
// detach keys, exec -it, run -i with piped input, create -i + start -a -i; each berth runs under
// a real pty (util-linux `script`, its size set with stty first), keys are typed into it and the
// screen is read back. The monitor that holds the terminal stays under 1 MB.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDetachKeys } from "../../src/engine/index.js";
import { AttachMsg } from "../../src/engine/monitor.js";
import { REPO, rootSkip } from "../helpers/oci.js";

const BERTH = path.join(REPO, "bin", "berth");
const ROWS = 33;
const COLS = 101;

const hasScript = spawnSync("script", ["--version"]).status === 0;

interface Terminal {
  /** keys typed at the terminal */
  type(keys: string): void;
  /** waits (bounded) until the screen matches; fails with what it shows */
  until(pattern: RegExp, what: string): Promise<void>;
  screen(): string;
  /** berth's exit code */
  exited: Promise<number>;
  kill(): void;
}

describe("berth engine: terminals, attach and stdin", { skip: rootSkip || (!hasScript && "needs util-linux script for a pty") }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const args = (a: string[]) => ["--root", root, "--runroot", runroot, ...a];
  const berth = (a: string[], input = "") => {
    const r = spawnSync(BERTH, args(a), { input, encoding: "utf8", timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = (a: string[]) => {
    const r = berth(a);
    assert.equal(r.code, 0, `berth ${a.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const state = (ref: string) => JSON.parse(ok(["inspect", ref]))[0].State as { Running: boolean; Pid: number; Status: string };

  /** berth under a pty of ROWS x COLS: what a user at a terminal does */
  const terminal = (a: string[]): Terminal => {
    const cmd = `stty rows ${ROWS} cols ${COLS}; exec ${[BERTH, ...args(a)].map((s) => `'${s}'`).join(" ")}`;
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => child.on("exit", (code, sig) => resolve(code ?? (sig ? 128 : -1))));
    let done = false;
    void exited.then(() => (done = true));
    return {
      type: (keys) => child.stdin.write(keys),
      async until(pattern, what) {
        for (let i = 0; i < 600 && !pattern.test(out); i++) {
          if (done) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(out, pattern, `${what}: the screen shows ${JSON.stringify(out)}`);
      },
      screen: () => out,
      exited: exited.then((c) => {
        child.stdin.end();
        return c;
      }),
      kill: () => child.kill("SIGKILL"),
    };
  };
  /** the terminal's berth, ended however the test went */
  const finished = async (t: Terminal) => {
    const bound = setTimeout(() => t.kill(), 30_000);
    try {
      return await t.exited;
    } finally {
      clearTimeout(bound);
    }
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-tty-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
  });
  after(async () => {
    const made = path.join(root, "containers");
    if (existsSync(made)) for (const id of readdirSync(made)) berth(["rm", "-f", id]);
    // a monitor's exit command (berth container cleanup) may still be finishing in this root
    const busy = () =>
      readdirSync("/proc").some((p) => {
        try {
          return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, "utf8").includes(root);
        } catch {
          return false;
        }
      });
    for (let i = 0; i < 100 && busy(); i++) await new Promise((r) => setTimeout(r, 100));
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  test("run -it busybox sh: typed commands run, 42 shows, exit 3 is berth's exit code", async () => {
    const t = terminal(["run", "--rm", "-it", "--name", "it-sh", "busybox", "sh"]);
    try {
      await t.until(/# /, "the shell's prompt");
      t.type("echo $((6*7))\r");
      await t.until(/\r+\n42\r+\n/, "the shell's answer");
      t.type("exit 3\r");
      assert.equal(await finished(t), 3, t.screen());
    } finally {
      t.kill();
      berth(["rm", "-f", "it-sh"]);
    }
    assert.equal(berth(["inspect", "it-sh"]).code, 125, "--rm removed it");
  });

  test("run -it: the program's stdio is a /dev/pts terminal of the outer terminal's size", async () => {
    const t = terminal(["run", "--rm", "-it", "busybox", "sh", "-c", "tty; stty size; ls -l /proc/self/fd/0"]);
    try {
      assert.equal(await finished(t), 0, t.screen());
    } finally {
      t.kill();
    }
    assert.match(t.screen(), /^\/dev\/pts\/\d+\r?$/m);
    assert.match(t.screen(), new RegExp(`^${ROWS} ${COLS}\\r?$`, "m"));
    assert.match(t.screen(), /-> \/dev\/pts\/\d+/);
  });

  test("run -it: when the outer terminal is resized (SIGWINCH), so is the container's", () => {
    // python's pty module: this test needs to change the outer terminal's size while berth runs
    const driver = `
import os, pty, sys, time, select, struct, fcntl, termios
def size(fd, r, c): fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    size(0, 20, 70)
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def until(pat, t):
    global out
    end = time.time() + t
    while time.time() < end and pat not in out:
        if select.select([fd], [], [], 0.1)[0]:
            try: d = os.read(fd, 4096)
            except OSError: return False
            if not d: return False
            out += d
    return pat in out
until(b"# ", 30)
os.write(fd, b"stty size\\r")
until(b"20 70", 30)
size(fd, 40, 120)
for i in range(100):
    os.write(fd, b"stty size\\r")
    if until(b"40 120", 0.3): break
os.write(fd, b"exit 0\\r")
until(b"no such thing", 30)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace") + "\\nEXIT %d\\n" % os.waitstatus_to_exitcode(st))
`;
    const r = spawnSync("python3", ["-c", driver, BERTH, ...args(["run", "--rm", "-it", "busybox", "sh"])], { encoding: "utf8", timeout: 120_000 });
    assert.match(r.stdout, /^20 70\r?$/m, r.stdout + r.stderr);
    assert.match(r.stdout, /^40 120\r?$/m, r.stdout + r.stderr);
    assert.match(r.stdout, /\nEXIT 0\n$/);
  });

  test("run -dit, attach, Ctrl-P Ctrl-Q detaches and leaves it running; attach again works; its exit ends the attach", async () => {
    ok(["run", "-dit", "--name", "att", "busybox", "sh"]);
    try {
      const first = terminal(["attach", "att"]);
      try {
        first.type("echo $((6*7))\r");
        await first.until(/\r+\n42\r+\n/, "the shell's answer through attach");
        first.type("\x10\x11");
        assert.equal(await finished(first), 0, first.screen());
      } finally {
        first.kill();
      }
      assert.equal(state("att").Running, true, "detaching leaves the container running");
      // again, with other detach keys
      const second = terminal(["attach", "--detach-keys", "ctrl-x", "att"]);
      try {
        second.type("echo $((7*8)); stty size\r");
        await second.until(/\r+\n56\r+\n/, "the second attach's answer");
        await second.until(new RegExp(`\\r+\\n${ROWS} ${COLS}\\r+\\n`), "attach sets the terminal's size");
        second.type("\x18");
        assert.equal(await finished(second), 0, second.screen());
      } finally {
        second.kill();
      }
      assert.equal(state("att").Running, true, "--detach-keys ctrl-x detached");
      // the shell exits while attached: attach exits with its code
      const third = terminal(["attach", "att"]);
      try {
        third.type("exit 4\r");
        assert.equal(await finished(third), 4, third.screen());
      } finally {
        third.kill();
      }
      const s = state("att");
      assert.equal(s.Running, false);
      assert.equal(JSON.parse(ok(["inspect", "att"]))[0].State.ExitCode, 4);
      // what the terminal showed is in the log, as stdout
      const logs = berth(["logs", "att"]);
      assert.match(logs.stdout, /56/);
    } finally {
      berth(["rm", "-f", "att"]);
    }
  });

  test("run --rm -it, Ctrl-P Ctrl-Q: berth exits 0 and the container runs on; once it exits, --rm removes it", async () => {
    const t = terminal(["run", "--rm", "-it", "--name", "rd", "busybox", "sh"]);
    try {
      await t.until(/# /, "the shell's prompt");
      t.type("\x10\x11");
      assert.equal(await finished(t), 0, t.screen());
      assert.equal(state("rd").Running, true);
      const back = terminal(["attach", "rd"]);
      try {
        back.type("exit 6\r");
        assert.equal(await finished(back), 6, back.screen());
      } finally {
        back.kill();
      }
      // its monitor's cleanup removes it (bounded wait)
      for (let i = 0; i < 200 && berth(["inspect", "rd"]).code === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(berth(["inspect", "rd"]).code, 125, "removed once it exited");
    } finally {
      t.kill();
      berth(["rm", "-f", "rd"]);
    }
  });

  test("echo hi | run -i busybox cat prints hi and exits 0; stdout and stderr stay apart", () => {
    const r = berth(["run", "--rm", "-i", "busybox", "cat"], "hi\n");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.stderr, "");
    const s = berth(["run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got $x; echo oops >&2; exit 5"], "yes\n");
    assert.equal(s.code, 5);
    assert.equal(s.stdout, "got yes\n");
    assert.equal(s.stderr, "oops\n");
    // more input than any pipe holds, to a program that stops reading: berth still ends with it
    const big = berth(["run", "--rm", "-i", "busybox", "head", "-1"], "y\n".repeat(1 << 20));
    assert.equal(big.code, 0, big.stderr);
    assert.equal(big.stdout, "y\n");
    // and all of it to one that reads everything
    const all = berth(["run", "--rm", "-i", "busybox", "wc", "-c"], "y\n".repeat(1 << 18));
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.trim(), String(2 << 18));
    assert.deepEqual(ok(["ps", "-aq"]), "");
  });

  test("run -t without a terminal on berth's stdin still gives the program one", () => {
    const r = berth(["run", "--rm", "-t", "busybox", "tty"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/);
  });

  test("create -i + start -a -i: berth's input reaches the program, its exit code is berth's", () => {
    ok(["create", "-i", "--name", "ci", "busybox", "sh", "-c", "read x; echo got $x; exit 2"]);
    try {
      const r = berth(["start", "-a", "-i", "ci"], "yo\n");
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "got yo\n");
    } finally {
      berth(["rm", "-f", "ci"]);
    }
  });

  test("exec -it into a running container: a terminal of the outer size, its exit code", async () => {
    ok(["run", "-d", "--name", "ex", "busybox", "sleep", "300"]);
    try {
      const t = terminal(["exec", "-it", "ex", "sh"]);
      try {
        await t.until(/# /, "the shell's prompt");
        t.type("tty; stty size; echo $((6*7))\r");
        await t.until(/\r+\n42\r+\n/, "the shell's answer");
        t.type("exit 7\r");
        assert.equal(await finished(t), 7, t.screen());
      } finally {
        t.kill();
      }
      assert.match(t.screen(), /\/dev\/pts\/\d+\r+\n/);
      assert.match(t.screen(), new RegExp(`\\r+\\n${ROWS} ${COLS}\\r+\\n`));
      assert.equal(state("ex").Running, true);
    } finally {
      berth(["rm", "-f", "ex"]);
    }
  });

  test("the monitor holding a container's terminal stays under 1 MB", () => {
    ok(["run", "-dit", "--name", "rss", "busybox", "sh"]);
    try {
      const pid = state("rss").Pid;
      const monitor = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
      const status = readFileSync(`/proc/${monitor}/status`, "utf8");
      assert.match(readFileSync(`/proc/${monitor}/cmdline`, "utf8"), /berth-runtime/);
      const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
      assert.ok(rss < 1024, `monitor ${monitor}: VmRSS ${rss} kB`);
      // and it holds the pty master
      const fds = readdirSync(`/proc/${monitor}/fd`).map((f) => {
        try {
          return readFileSync(`/proc/${monitor}/fdinfo/${f}`, "utf8");
        } catch {
          return "";
        }
      });
      assert.ok(fds.some((f) => /^tty-index:/m.test(f)), "the monitor holds a pty master");
    } finally {
      berth(["rm", "-f", "rss"]);
    }
  });

  test("errors: attach to a stopped container, -t exec into a stopped one, bad --detach-keys: one line, 125", () => {
    ok(["create", "--name", "stopped", "busybox", "sh"]);
    try {
      for (const a of [["attach", "stopped"], ["exec", "-it", "stopped", "sh"], ["exec", "-t", "stopped", "sh"], ["run", "-it", "--detach-keys", "ctrl-", "busybox", "sh"]]) {
        const r = berth(a);
        assert.equal(r.code, 125, `berth ${a.join(" ")}: exit ${r.code}: ${r.stderr}`);
        assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
        assert.match(r.stderr, /stopped|not running|detach-keys/);
      }
      assert.deepEqual(ok(["ps", "-aq"]).split("\n"), [JSON.parse(ok(["inspect", "stopped"]))[0].Id.slice(0, 12)], "nothing else was made");
    } finally {
      berth(["rm", "-f", "stopped"]);
    }
  });
});

describe("the attach protocol and detach keys", () => {
  test("native/monitor.h and src/engine/monitor.ts name the same messages with the same numbers", () => {
    const header = readFileSync(path.join(REPO, "native", "monitor.h"), "utf8");
    const inC = Object.fromEntries([...header.matchAll(/^\s*ATTACH_([A-Z_]+) = (\d+),/gm)].map((m) => [m[1]!, Number(m[2])]));
    const inTs = Object.fromEntries(Object.entries(AttachMsg).filter(([k]) => Number.isNaN(Number(k))));
    assert.deepEqual(inC, inTs);
  });

  test("--detach-keys reads as Docker's: ctrl-p,ctrl-q, single characters, ctrl-@ … ctrl-_; bad ones are refused", () => {
    assert.deepEqual([...parseDetachKeys("ctrl-p,ctrl-q")], [0x10, 0x11]);
    assert.deepEqual([...parseDetachKeys("ctrl-x")], [0x18]);
    assert.deepEqual([...parseDetachKeys("a,ctrl-@,ctrl-[,ctrl-_")], [0x61, 0, 27, 31]);
    assert.deepEqual([...parseDetachKeys("")], []);
    for (const bad of ["ctrl-", "ctrl-pp", "alt-x", "ctrl-p,,ctrl-q"]) assert.throws(() => parseDetachKeys(bad), /--detach-keys/);
  });
});
