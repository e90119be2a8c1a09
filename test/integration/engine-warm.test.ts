// berth's Warm path (native/build/berth, DESIGN.md "Start-up speed"): the engine's main
// scenarios through the C front-end and the warm service, with the same results as the Direct
// path (bin/berth): output bytes, exit codes, signals, errors, and nothing lost or left behind
// when the service is killed between calls. Terminal-bound requests fall back to Direct.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { needsDirect } from "../../src/warm/berth.js";
import { REPO, rootSkip } from "../helpers/oci.js";

const DIRECT = path.join(REPO, "bin", "berth");
const WARM = path.join(REPO, "native", "build", "berth");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pids of live processes whose command line mentions `needle` (ours: our temp dir) */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle)) found.push(Number(p));
    } catch {
      // gone
    }
  }
  return found;
}

describe("needsDirect: what the warm service hands back to the Direct path", () => {
  test("-i/-t/--interactive/--tty on run, create and start; exec, attach; a prune that would ask", () => {
    for (const argv of [
      ["run", "-it", "busybox", "sh"],
      ["run", "-dit", "busybox", "sh"],
      ["--root", "/r", "run", "--rm", "-t", "busybox", "sh"],
      ["run", "--name", "x", "--tty", "busybox"],
      ["run", "-e", "A=1", "-i", "busybox"],
      ["container", "create", "--interactive", "busybox"],
      ["start", "-ai", "x"],
      ["start", "x", "--interactive"],
      ["exec", "x", "true"],
      ["attach", "x"],
      ["image", "prune"],
      ["system", "prune", "-a"],
      ["builder", "prune"],
    ])
      assert.equal(needsDirect(argv), true, argv.join(" "));
    for (const argv of [
      ["run", "--rm", "busybox", "true"],
      ["run", "--rm", "busybox", "ls", "-t"], // the container's own flags
      ["run", "-eTITLE=1", "busybox", "true"], // -e's value, not -i -t
      ["run", "-d", "--tty=false", "busybox", "true"],
      ["--root", "/r", "ps", "-a"],
      ["start", "-a", "x"],
      ["image", "prune", "-f"],
      ["builder", "prune", "-f"],
      ["logs", "-f", "x"],
    ])
      assert.equal(needsDirect(argv), false, argv.join(" "));
  });
});

describe("berth engine through the Warm path", { skip: rootSkip }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  let socket: string;
  let env: NodeJS.ProcessEnv;
  const run = (bin: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Result => {
    const r = spawnSync(bin, ["--root", root, "--runroot", runroot, ...args], { input: "", encoding: "utf8", timeout: 60_000, env: { ...env, ...extraEnv } });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const warm = (args: string[], extraEnv?: NodeJS.ProcessEnv) => run(WARM, args, extraEnv);
  const ok = (args: string[]) => {
    const r = warm(args);
    assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const servicePid = () => Number(readFileSync(socket + ".pid", "utf8"));
  const rows = () => ok(["ps", "-aq", "--no-trunc"]).split("\n").filter(Boolean);
  const mounts = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(runroot) || l.includes(root));
  const inspect = (ref: string) => JSON.parse(ok(["inspect", ref]))[0];
  const gone = (id: string) => {
    assert.deepEqual(mounts().filter((m) => m.includes(id)), [], "no mounts left");
    assert.deepEqual(["memory", "pids", "cpu", "freezer"].filter((c) => existsSync(`/sys/fs/cgroup/${c}/berth/${id}`)), [], "no cgroups left");
    assert.equal(existsSync(path.join(runroot, "runtime", id)), false, "no runtime state");
    assert.equal(existsSync(path.join(runroot, "containers", id)), false, "no run dir");
  };
  const killService = async () => {
    const pid = servicePid();
    process.kill(pid, "SIGKILL");
    for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await sleep(10);
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-engine-warm-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    socket = path.join(dir, "warm", "warm.sock");
    env = { ...process.env, BERTH_WARM_SOCKET: socket, BERTH_WARM_IDLE_MS: "20000" };
    delete env.BERTH_NO_WARM;
    ok(["bootstrap", "busybox"]);
    assert.ok(existsSync(socket + ".pid"), "the first call started the warm service");
  });
  after(async () => {
    for (const id of readdirSync(path.join(root, "containers"), { withFileTypes: true }).map((d) => d.name)) run(DIRECT, ["rm", "-f", id]);
    // the monitors' exit commands (their command lines name our root) go to the service: let them finish
    const service = existsSync(socket + ".pid") ? servicePid() : 0;
    for (let i = 0; i < 250 && processesMentioning(dir).some((p) => p !== service); i++) await sleep(20);
    if (service) {
      try {
        process.kill(service, "SIGTERM");
      } catch {
        // gone already
      }
      for (let i = 0; i < 250 && existsSync(`/proc/${service}`); i++) await sleep(20);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("run --rm busybox echo hi: the output, exit 0, nothing left; the service answered", () => {
    const pid = servicePid();
    const r = warm(["run", "--rm", "busybox", "echo", "hi"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.stderr, "");
    assert.equal(servicePid(), pid, "the same service");
    assert.deepEqual(rows(), []);
    assert.deepEqual(mounts(), []);
    assert.deepEqual(readdirSync(path.join(runroot, "runtime")), []);
  });

  test("the container's exit code and its stdout and stderr apart, as Direct", () => {
    const args = ["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"];
    const w = warm(args);
    assert.deepEqual(w, { code: 3, stdout: "out\n", stderr: "err\n" });
    assert.deepEqual(run(DIRECT, args), w);
    assert.deepEqual(rows(), []);
  });

  test("run -d, logs, logs -f, stop and rm", async () => {
    const id = ok(["run", "-d", "--name", "ticker", "busybox", "sh", "-c", "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(ok(["ps", "--format", "{{.Names}} {{.State}}"]), "ticker running\n");
    // the monitor is the container's parent, in its own session: not the service
    const pid = inspect("ticker").State.Pid as number;
    const monitor = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
    assert.notEqual(monitor, servicePid());
    await sleep(400);
    assert.deepEqual(ok(["logs", "ticker"]).split("\n").slice(0, 3), ["tick 0", "tick 1", "tick 2"]);
    const follow = spawn(WARM, ["--root", root, "--runroot", runroot, "logs", "-f", "--tail", "0", "ticker"], { stdio: ["ignore", "pipe", "pipe"], env });
    let followed = "";
    follow.stdout.on("data", (d) => (followed += d));
    const followEnd = new Promise<number>((r) => follow.on("exit", (c) => r(c ?? -1)));
    await sleep(300);
    assert.equal(ok(["stop", "ticker"]), "ticker\n");
    assert.equal(await followEnd, 0);
    assert.match(followed, /tick \d+\n/);
    assert.match(followed, /bye\n$/);
    assert.equal(inspect("ticker").State.ExitCode, 0);
    gone(id);
    // the monitor, done, is not left as the service's zombie
    for (let i = 0; i < 100 && existsSync(`/proc/${monitor}`); i++) await sleep(20);
    assert.equal(existsSync(`/proc/${monitor}`), false, "the monitor has gone, reaped");
    assert.equal(ok(["rm", "ticker"]), "ticker\n");
    assert.deepEqual(rows(), []);
  });

  test("an unknown image: the same one line and exit 125 as Direct, nothing made", () => {
    const args = ["run", "--rm", "--pull", "never", "nosuch:1"]; // never: no pull from docker.io in a test
    const w = warm(args);
    assert.equal(w.code, 125);
    assert.equal(w.stderr, "berth: Unable to find image 'nosuch:1' locally\n");
    assert.deepEqual(run(DIRECT, args), w);
    const bad = ["run", "--rm", "--memory", "10xb", "busybox", "true"];
    assert.deepEqual(warm(bad), run(DIRECT, bad));
    assert.deepEqual(rows(), []);
  });

  test("a signal to a foreground berth run reaches the container", async () => {
    const p = spawn(WARM, ["--root", root, "--runroot", runroot, "run", "--rm", "busybox", "sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done"], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => p.on("exit", (c) => r(c)));
    for (let i = 0; i < 500 && !out.includes("ready"); i++) await sleep(10);
    assert.equal(out, "ready\n", err);
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
    assert.equal(await exited, 7, err);
    clearTimeout(timer);
    assert.equal(out, "ready\ngot TERM\n");
    assert.deepEqual(rows(), []);
  });

  test("a -t request is run by the Direct path, with the same argv", () => {
    // a `node` first on PATH that notes how it was called: the Direct path execs `node bin/berth ARGV`
    const shim = path.join(dir, "shim");
    mkdirSync(shim, { recursive: true });
    const log = path.join(shim, "calls");
    writeFileSync(path.join(shim, "node"), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${process.execPath}' "$@"\n`);
    chmodSync(path.join(shim, "node"), 0o755);
    const shimEnv = { PATH: `${shim}:${env.PATH}` };
    const calls = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
    assert.equal(warm(["run", "--rm", "busybox", "true"], shimEnv).code, 0);
    assert.equal(calls(), "", "answered warm: no node started");
    const args = ["run", "--rm", "-t", "busybox", "true"];
    const w = warm(args, shimEnv);
    assert.match(calls(), new RegExp(`^${DIRECT} --root ${root} --runroot ${runroot} run --rm -t busybox true\\n$`));
    const d = run(DIRECT, args);
    assert.equal(w.code, d.code, w.stderr);
    assert.equal(w.stderr, d.stderr);
    // --no-warm and BERTH_NO_WARM=1 are Direct too
    rmSync(log);
    assert.equal(warm(["--no-warm", "ps", "-a"], shimEnv).code, 0);
    assert.equal(warm(["ps", "-a"], { ...shimEnv, BERTH_NO_WARM: "1" }).code, 0);
    assert.equal(calls().split("\n").filter(Boolean).length, 2);
    assert.deepEqual(rows(), []);
  });

  test("the service killed between calls: containers run on, the next call starts a new one, cleanup still happens", async () => {
    const id = ok(["run", "-d", "--name", "survivor", "busybox", "sleep", "30"]).trim();
    const auto = ok(["run", "-d", "--rm", "busybox", "sleep", "1"]).trim();
    const pid = inspect("survivor").State.Pid as number;
    const old = servicePid();
    await killService();
    assert.equal(existsSync(`/proc/${pid}`), true, "the container outlives the service");
    assert.match(ok(["ps", "--format", "{{.Names}} {{.State}}"]), /survivor running/);
    assert.notEqual(servicePid(), old, "a new service");
    await killService();
    // the --rm container's monitor runs its cleanup through the front-end, which starts a service
    for (let i = 0; i < 500 && rows().includes(auto); i++) await sleep(20);
    assert.equal(rows().includes(auto), false, "the --rm container was removed by its monitor's cleanup");
    gone(auto);
    assert.equal(ok(["stop", "-t", "1", "survivor"]), "survivor\n");
    assert.equal(inspect("survivor").State.Status, "exited");
    gone(id);
    ok(["rm", "survivor"]);
    assert.deepEqual(rows(), []);
  });
});
