// berth top, stats, rename, ps -s and run --init on real containers from the busybox image,
// 20 `run --rm` at once from separate processes, and the bad input of these verbs: what a
// user sees (columns, values read back from the cgroup, exit codes) and nothing left behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Engine } from "../../src/engine/index.js";
import { REPO, rootSkip } from "../helpers/oci.js";
import { berthCli, type Result } from "../helpers/berth.js";

const BERTH = path.join(REPO, "bin", "berth");
const MiB = 1024 * 1024;


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** "1.05MB" (docker's decimal units) -> bytes */
function bytes(text: string): number {
  const m = /^([\d.]+)(B|kB|MB|GB)$/.exec(text);
  assert.ok(m, `a size: ${text}`);
  return Number(m[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as "B"];
}

/** The table's cells: columns are at least three spaces apart, cells have single spaces. */
const cells = (line: string) => line.trim().split(/ {2,}/);

describe("berth top, stats, rename, ps -s, --init", { skip: rootSkip }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const { berth, ok, fails125: fails } = berthCli(BERTH, () => ({ root, runroot }), 120_000);
  const fails125 = (args: string[], pattern: RegExp) => fails(args, pattern, { quiet: true });
  const inspect = (ref: string) => JSON.parse(ok(["inspect", ref]))[0];
  const mounts = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(runroot) || l.includes(root));
  /** every v1 hierarchy (or the v2 tree) that still has a cgroup for `id` */
  const cgroupsOf = (id: string) =>
    readdirSync("/sys/fs/cgroup", { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join("/sys/fs/cgroup", d.name, "berth", id))
      .concat(path.join("/sys/fs/cgroup/berth", id))
      .filter((p) => existsSync(p));
  /** processes of this root: monitors (their log is under it) and cleanup commands (--root) */
  const ourProcesses = () =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(root);
        } catch {
          return false;
        }
      });

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-ops-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
  });
  after(() => {
    for (const id of readdirSync(path.join(root, "containers"))) berth(["rm", "-f", id]);
    // a monitor may still be finishing its last writes under the root (ENOTEMPTY): retried
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  test("top: the container's processes, with ps -ef's columns or the ps options given", () => {
    const id = ok(["run", "-d", "--name", "topper", "busybox", "sleep", "1000"]).trim();
    try {
      const pid = inspect("topper").State.Pid as number;
      const lines = ok(["top", "topper"]).trimEnd().split("\n");
      assert.deepEqual(cells(lines[0]!), ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
      // only the container's one process, by its host pid
      assert.equal(lines.length, 2, lines.join("\n"));
      const row = cells(lines[1]!);
      assert.equal(row[0], "root");
      assert.equal(row[1], String(pid));
      assert.equal(row[7], "sleep 1000");
      // the ps options given: docker top CONTAINER -o pid,comm
      assert.equal(ok(["top", "topper", "-o", "pid,comm"]).replace(/ +/g, " "), `PID COMMAND\n${pid} sleep\n`);
      // BSD options that cannot take -q still select the container's processes only
      const aux = ok(["top", "topper", "aux"]).trimEnd().split("\n");
      assert.match(aux[0]!, /^USER\s+PID\s+%CPU\s+%MEM\s+VSZ\s+RSS\s+TTY\s+STAT\s+START\s+TIME\s+COMMAND$/);
      assert.equal(aux.length, 2);
      assert.equal(cells(aux[1]!)[1], String(pid));
    } finally {
      ok(["rm", "-f", id]);
    }
  });

  test("stats --no-stream: the memory limit of --memory and the pids count, as a table, json and the library", async () => {
    const id = ok(["run", "-d", "--name", "st", "--network", "none", "--memory", "64m", "busybox", "sh", "-c", "sleep 1000 & sleep 1000 & wait"]).trim();
    try {
      // the value the cgroup holds, read back
      assert.equal(readFileSync(`/sys/fs/cgroup/memory/berth/${id}/memory.limit_in_bytes`, "utf8").trim(), String(64 * MiB));
      // sh and its two sleeps
      for (let i = 0; i < 100 && ok(["top", "st", "-o", "pid"]).trim().split("\n").length < 4; i++) await sleep(20);
      const lines = ok(["stats", "--no-stream", "st"]).trimEnd().split("\n");
      assert.deepEqual(cells(lines[0]!), ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]);
      assert.equal(lines.length, 2);
      const row = cells(lines[1]!);
      assert.equal(row[0], id.slice(0, 12));
      assert.equal(row[1], "st");
      assert.match(row[2]!, /^\d+\.\d\d%$/);
      assert.match(row[3]!, /^[\d.]+(B|KiB|MiB) \/ 64MiB$/);
      assert.match(row[4]!, /^\d+\.\d\d%$/);
      assert.equal(row[5], "0B / 0B"); // no network but loopback
      assert.equal(row[7], "3");

      const json = ok(["stats", "--no-stream", "--format", "json", "st"]).trimEnd().split("\n").map((l) => JSON.parse(l));
      assert.equal(json.length, 1);
      assert.deepEqual(Object.keys(json[0]), ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]);
      assert.equal(json[0].Name, "st");
      assert.equal(json[0].Container, "st");
      assert.equal(json[0].PIDs, "3");
      assert.match(json[0].MemUsage, / \/ 64MiB$/);
      assert.equal(ok(["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "st"]), "st 3\n");

      // the library: one typed record, and a stream that ends when asked to
      const engine = new Engine({ root, runroot });
      try {
        const s = await engine.stats("st", { interval: 200 });
        assert.equal(s.id, id);
        assert.equal(s.running, true);
        assert.equal(s.memory.limit, 64 * MiB);
        assert.equal(s.pids, 3);
        assert.ok(s.memory.usage > 0 && s.memory.usage < 64 * MiB);
        const stop = new AbortController();
        const readings = [];
        for await (const r of engine.statsStream("st", { interval: 100, signal: stop.signal })) {
          readings.push(r);
          if (readings.length === 2) stop.abort();
        }
        assert.equal(readings.length, 2);
        assert.ok(readings.every((r) => r.pids === 3 && r.memory.limit === 64 * MiB));
        assert.ok(Date.parse(readings[1]!.read) > Date.parse(readings[0]!.read));
      } finally {
        await engine.close();
      }
      // -a shows a stopped container with zeros; without -a it is not listed
      ok(["create", "--name", "idle", "busybox", "true"]);
      const all = ok(["stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}"]).split("\n").filter(Boolean).sort();
      assert.equal(all.length, 2);
      assert.equal(all[0], "idle 0.00% 0B / 0B 0");
      assert.match(all[1]!, /^st \d+\.\d\d% .* \/ 64MiB 3$/);
      assert.equal(ok(["stats", "--no-stream", "--format", "{{.Name}}"]), "st\n");
      ok(["rm", "idle"]);
    } finally {
      ok(["rm", "-f", id]);
    }
  });

  test("stats without --no-stream: redraws every second on a terminal until Ctrl-C; piped, a table a second", async () => {
    const id = ok(["run", "-d", "--name", "streamed", "--network", "none", "busybox", "sleep", "1000"]).trim();
    /** runs `stats streamed` until `tables` tables have come, then interrupts it; its exit code and output */
    const watch = (tty: boolean, tables: number) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const args = ["--root", root, "--runroot", runroot, "stats", "streamed"];
        // a real terminal: script(1) gives berth a pty, and ^C typed on it is the terminal's SIGINT.
        // `exec`: script runs $SHELL -c, and a dash left waiting would die of that SIGINT itself (130)
        const p = tty ? spawn("script", ["-qfec", ["exec", BERTH, ...args].join(" "), "/dev/null"], { stdio: ["pipe", "pipe", "ignore"] }) : spawn(BERTH, args, { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        let interrupted = false;
        p.stdout!.on("data", (d) => {
          out += d;
          if (!interrupted && (out.match(/CONTAINER ID/g) ?? []).length >= tables) {
            interrupted = true;
            if (tty) p.stdin!.write("\x03");
            else p.kill("SIGINT");
          }
        });
        const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
        p.on("exit", (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        });
      });
    try {
      const term = await watch(true, 2);
      assert.equal(term.code, 0, term.out);
      const frames = term.out.split("\x1b[2J\x1b[H").slice(1);
      assert.ok(frames.length >= 2, JSON.stringify(term.out));
      for (const f of frames) assert.match(f, /^CONTAINER ID\s+NAME\s+CPU %.*PIDS\r\n[0-9a-f]{12}\s+\S+\s+\S+/);
      // by the second frame there is a reading (the first may still show docker's "--")
      assert.match(frames[1]!, /^.*\r\n[0-9a-f]{12}\s+streamed\s+\d+\.\d\d%\s+[\d.]+\w+ \/ [\d.]+\w+\s+\d+\.\d\d%\s+0B \/ 0B\s+\S+ \/ \S+\s+1\r\n/);
      const piped = await watch(false, 2);
      assert.equal(piped.code, 0);
      assert.ok(!piped.out.includes("\x1b"), "no terminal codes when piped");
      assert.match(piped.out, /^(CONTAINER ID\s+NAME\s+CPU %.*PIDS\n[0-9a-f]{12}\s+\S+\s+.*\n){2,}$/);
    } finally {
      ok(["rm", "-f", id]);
    }
  });

  test("stats: a busy container shows CPU %", () => {
    const id = ok(["run", "-d", "busybox", "sh", "-c", "while :; do :; done"]).trim();
    try {
      const cpu = ok(["stats", "--no-stream", "--format", "{{.CPUPerc}}", id]).trim();
      assert.match(cpu, /^\d+\.\d\d%$/);
      assert.ok(parseFloat(cpu) > 1, cpu);
    } finally {
      ok(["rm", "-f", id]);
    }
  });

  test("rename: the new name finds it, the old one does not", () => {
    const id = ok(["create", "--name", "before", "busybox", "true"]).trim();
    try {
      assert.equal(ok(["rename", "before", "after"]), "");
      assert.equal(inspect("after").Id, id);
      assert.equal(inspect("after").Name, "/after");
      fails125(["top", "before"], /^berth: No such container: before$/);
      fails125(["stats", "--no-stream", "before"], /^berth: No such container: before$/);
      assert.equal(ok(["ps", "-a", "--format", "{{.Names}}"]), "after\n");
      // the old name is free again
      ok(["create", "--name", "before", "busybox", "true"]);
      ok(["rm", "before"]);
    } finally {
      ok(["rm", "-f", id]);
    }
  });

  test("ps -s: the writable layer's size grows by the 1 MB file written, virtual includes the image", () => {
    const id = ok(["run", "-d", "--name", "sized", "busybox", "sleep", "1000"]).trim();
    try {
      const table = ok(["ps", "-s"]).trimEnd().split("\n");
      assert.deepEqual(cells(table[0]!), ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "SIZE"]);
      const size = () => {
        const m = /^(\S+) \(virtual (\S+)\)\n$/.exec(ok(["ps", "-s", "--filter", "name=sized", "--format", "{{.Size}}"]));
        assert.ok(m, "SIZE as <rw> (virtual <total>)");
        return { rw: bytes(m[1]!), virtual: bytes(m[2]!) };
      };
      const before = size();
      assert.ok(before.rw < 100_000, `a fresh container has written little: ${before.rw}`);
      assert.ok(before.virtual > 1_000_000, "virtual: the busybox image is in it");
      ok(["exec", "sized", "dd", "if=/dev/zero", "of=/megabyte", "bs=1048576", "count=1"]);
      const after = size();
      assert.ok(after.rw - before.rw >= 1_040_000, `${before.rw} -> ${after.rw}`);
      assert.ok(Math.abs(after.virtual - after.rw - (before.virtual - before.rw)) < 20_000, "virtual = rw + the image");
    } finally {
      ok(["rm", "-f", id]);
    }
  });

  test("--init: tini is PID 1 with the command as its child, forwards stop's SIGTERM and reaps orphans", async () => {
    const id = ok(["run", "-d", "--init", "--name", "inited", "busybox", "sleep", "1000"]).trim();
    try {
      const procs = ok(["exec", "inited", "ps", "-o", "pid,ppid,args"]).split("\n").map((l) => l.trim().replace(/\s+/g, " "));
      assert.equal(inspect("inited").HostConfig.Init, true);
      assert.ok(procs.includes("1 0 /sbin/berth-init -- sleep 1000"), procs.join("\n"));
      assert.ok(procs.some((l) => /^\d+ 1 sleep 1000$/.test(l)), procs.join("\n"));
      // read-only in the container
      assert.notEqual(berth(["exec", "inited", "sh", "-c", "echo x > /sbin/berth-init"]).code, 0);
      // sleep as PID 1 would ignore SIGTERM and wait for the 30 s SIGKILL (137); tini passes it on
      assert.equal(ok(["stop", "-t", "30", "inited"]), "inited\n");
      assert.equal(inspect("inited").State.ExitCode, 143);
      assert.match(ok(["ps", "-a", "--filter", "name=inited", "--format", "{{.Status}}"]), /^Exited \(143\) /);
    } finally {
      ok(["rm", "-f", id]);
    }
    // an orphan (the subshell's sleep) is reparented to PID 1: tini reaps it, a plain sleep does not
    const zombies = async (init: boolean) => {
      const c = ok(["run", "-d", ...(init ? ["--init"] : []), "busybox", "sh", "-c", "(sleep 0.2 &); exec sleep 1000"]).trim();
      try {
        let lines: string[] = [];
        for (let i = 0; i < 100; i++) {
          lines = ok(["exec", c, "ps", "-o", "stat,args"]).split("\n");
          if (!lines.some((l) => /^\s*S\S*\s+sleep 0\.2/.test(l))) break; // the orphan has exited
          await sleep(50);
        }
        return lines.filter((l) => /^\s*Z/.test(l)).length;
      } finally {
        ok(["rm", "-f", c]);
      }
    };
    assert.equal(await zombies(true), 0);
    assert.equal(await zombies(false), 1);
  });

  test("20 run --rm in parallel from separate processes: all succeed; no record, mount, cgroup or monitor left", async () => {
    const runs = Array.from({ length: 20 }, (_, i) =>
      new Promise<Result>((resolve) => {
        const p = spawn(BERTH, ["--root", root, "--runroot", runroot, "run", "--rm", "busybox", "sh", "-c", `echo run ${i}; grep memory /proc/self/cgroup`], { stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (d) => (stdout += d));
        p.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
        p.on("exit", (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
      }),
    );
    const results = await Promise.all(runs);
    const ids = results.map((r, i) => {
      assert.equal(r.code, 0, `run ${i}: ${r.stderr}`);
      assert.equal(r.stderr, "");
      const m = /^run (\d+)\n\d+:memory:\/berth\/([0-9a-f]{64})\n$/.exec(r.stdout);
      assert.ok(m, `run ${i}: ${r.stdout}`);
      assert.equal(Number(m[1]), i);
      return m[2]!;
    });
    assert.equal(new Set(ids).size, 20);
    // a monitor becomes its container's cleanup command: give the last ones a moment to finish
    for (let i = 0; i < 300 && ourProcesses().length > 0; i++) await sleep(100);
    assert.deepEqual(ourProcesses(), [], "no monitor or cleanup process left");
    assert.equal(ok(["ps", "-a", "-q"]), "");
    assert.deepEqual(mounts(), []);
    assert.deepEqual(ids.flatMap(cgroupsOf), []);
    assert.deepEqual(readdirSync(path.join(runroot, "runtime")), []);
    assert.deepEqual(readdirSync(path.join(runroot, "containers")), []);
    assert.deepEqual(readdirSync(path.join(root, "containers")), []);
    assert.deepEqual(readdirSync(path.join(root, "snapshots", "overlay", "active")), []);
  });

  test("bad input: one line, exit 125, nothing changed", () => {
    fails125(["top", "nosuch"], /^berth: No such container: nosuch$/);
    fails125(["stats", "--no-stream", "nosuch"], /^berth: No such container: nosuch$/);
    const a = ok(["create", "--name", "taken", "busybox", "true"]).trim();
    const b = ok(["create", "--name", "mine", "busybox", "true"]).trim();
    try {
      fails125(["top", "taken"], new RegExp(`^berth: container ${a} is not running$`));
      fails125(["stats", "--no-stream", "mine", "nosuch"], /^berth: No such container: nosuch$/);
      fails125(["rename", "mine", "taken"], new RegExp(`^berth: Conflict\\. The container name "/taken" is already in use by container "${a}"`));
      fails125(["rename", "mine", "no way"], /^berth: Invalid container name \(no way\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed$/);
      fails125(["rename", "nosuch", "other"], /^berth: No such container: nosuch$/);
      assert.equal(inspect(b).Name, "/mine");
      assert.equal(inspect(a).Name, "/taken");
      const r = ok(["run", "-d", "busybox", "sleep", "1000"]).trim();
      try {
        fails125(["top", r, "-o", "user=PID"], /specifying "user=PID" is not allowed/);
        fails125(["top", r, "-o", "comm"], /PID field/);
      } finally {
        ok(["rm", "-f", r]);
      }
    } finally {
      ok(["rm", a, b]);
    }
  });
});
