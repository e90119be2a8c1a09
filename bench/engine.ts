// bench/engine: `berth run --rm --network none busybox true` on the Direct path (node bin/berth) and the Warm
// path (native/build/berth) side by side with `podman run --rm --network none` of the same
// busybox rootfs (and `docker run` when a docker daemon answers); `berth ps -a` with 200
// containers present; the monitors' memory per running container (and conmon's, for Podman).
// Everything lives in one temporary directory (berth's root and runroot, Podman's storage, the
// warm service's socket) and is removed at the end, or on ctrl-c.
// Usage: node dist/bench/engine.js [--iterations N] [--warmup N] [--containers N] [--monitors N] [--json]
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeRootfs } from "../test/helpers/oci.js";
import { quantile, which } from "./common.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const DIRECT = path.join(REPO, "bin", "berth");
const WARM = path.join(REPO, "native", "build", "berth");
/** per command; a healthy one takes well under a second */
const COMMAND_TIMEOUT_MS = 30_000;

interface Options {
  iterations: number;
  warmup: number;
  containers: number;
  monitors: number;
  json: boolean;
}

function usage(): string {
  return [
    "usage: node dist/bench/engine.js [--iterations N] [--warmup N] [--containers N] [--monitors N] [--json]",
    "",
    "  --iterations N  measured runs per engine (default 20)",
    "  --warmup N      unmeasured runs first (default 2)",
    "  --containers N  created containers present for `berth ps -a` (default 200)",
    "  --monitors N    detached containers whose monitors' memory is read (default 10)",
    "  --json          a JSON document instead of the tables",
    "",
    "Must run as root. Podman is measured when installed, docker when its daemon answers.",
  ].join("\n");
}

function parseOptions(argv: string[]): Options {
  const o: Options = { iterations: 20, warmup: 2, containers: 200, monitors: 10, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (min: number): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < min) fail(`${a} needs an integer >= ${min}\n\n${usage()}`);
      return n;
    };
    if (a === "--iterations" || a === "-n") o.iterations = num(1);
    else if (a === "--warmup") o.warmup = num(0);
    else if (a === "--containers") o.containers = num(1);
    else if (a === "--monitors") o.monitors = num(1);
    else if (a === "--json") o.json = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write(usage() + "\n");
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(a)}\n\n${usage()}`);
  }
  return o;
}

function fail(message: string): never {
  process.stderr.write(`bench/engine: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- running things

interface Run {
  code: number;
  ms: number;
  stdout: string;
  stderr: string;
}

let tmp = "";
let seq = 0;

/** Runs a command with stdout and stderr in files (a detached container may hold a pipe). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeout = COMMAND_TIMEOUT_MS): Run {
  const out = path.join(tmp, `out.${seq}`);
  const err = path.join(tmp, `err.${seq++}`);
  const o = openSync(out, "w");
  const e = openSync(err, "w");
  const t0 = performance.now();
  try {
    const r = spawnSync(cmd, args, { env, stdio: ["ignore", o, e], timeout, killSignal: "SIGKILL" });
    const ms = performance.now() - t0;
    return { code: r.status ?? 128 + 9, ms, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") + (r.error ? String(r.error) : "") };
  } finally {
    closeSync(o);
    closeSync(e);
    rmSync(out, { force: true });
    rmSync(err, { force: true });
  }
}

function must(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr.trim()}`);
  return r;
}



interface Stat {
  median: number;
  p90: number;
  n: number;
  failures: number;
}

function stat(samples: number[], failures: number): Stat {
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p90: quantile(s, 0.9), n: s.length, failures };
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");

// ---------------------------------------------------------------- the engines

interface Engine {
  name: string;
  run: () => Run;
}

function main(): void {
  const opts = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) fail("must run as root (containers need real namespaces, mounts and cgroups)");
  for (const f of [WARM, path.join(REPO, "dist", "src", "cli", "berth.mjs"), path.join(REPO, "dist", "src", "cli", "berth-warm.mjs")]) {
    if (!existsSync(f)) fail(`${f} is missing: run ./scripts/setup`);
  }
  tmp = mkdtempSync(path.join(os.tmpdir(), "berth-bench-engine-"));
  const root = path.join(tmp, "berth-root");
  const runroot = path.join(tmp, "berth-run");
  const socket = path.join(tmp, "warm", "warm.sock");
  const cgroupParent = path.basename(tmp);
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_WARM_SOCKET: socket, BERTH_WARM_IDLE_MS: "60000" };
  delete env.BERTH_NO_WARM;
  const podmanEnv: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: path.join(tmp, "containers.conf"), TMPDIR: path.join(tmp, "podman-tmpdir") };
  const berth = (bin: string, args: string[]) => run(bin, ["--root", root, "--runroot", runroot, ...args], env);
  const podmanArgs = [
    "--root", path.join(tmp, "podman-root"),
    "--runroot", path.join(tmp, "podman-runroot"),
    "--tmpdir", path.join(tmp, "podman-tmp"),
    "--storage-driver", "overlay",
    "--cgroup-manager", "cgroupfs",
    "--events-backend", "file",
  ];
  const podman = (args: string[]) => run("podman", [...podmanArgs, ...args], podmanEnv);
  const hasPodman = which("podman") !== undefined && which("conmon") !== undefined;
  let podmanReady = false;
  const notes: string[] = [];

  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    // berth's containers (Direct: it needs no service), then the warm service by its pid
    if (existsSync(path.join(root, "containers"))) {
      const ids = readdirSync(path.join(root, "containers"));
      for (let i = 0; i < ids.length; i += 50) run(DIRECT, ["--root", root, "--runroot", runroot, "rm", "-f", ...ids.slice(i, i + 50)], { ...env, BERTH_NO_WARM: "1" });
    }
    if (podmanReady) podman(["rm", "--all", "--force", "--time", "0"]);
    // monitors run their exit command (through the service) once their container is gone, and
    // conmon its cleanup: up to 5 s for whatever names our dir, then the service by its pid
    let service = 0;
    try {
      service = Number(readFileSync(socket + ".pid", "utf8"));
    } catch {
      // never started, or gone
    }
    for (let i = 0; i < 50 && processesMentioning(tmp).some((p) => p !== service); i++) spawnSync("sleep", ["0.1"]);
    if (service) {
      try {
        process.kill(service, "SIGTERM");
      } catch {
        // gone
      }
      for (let i = 0; i < 50 && existsSync(`/proc/${service}`); i++) spawnSync("sleep", ["0.1"]);
    }
    for (const m of readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(tmp + "/")).reverse()) {
      spawnSync("umount", [m]);
      spawnSync("umount", ["-l", m]);
    }
    for (const h of readdirSync("/sys/fs/cgroup")) {
      const d = path.join("/sys/fs/cgroup", h, cgroupParent);
      if (existsSync(d)) rmTree(d);
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });

  try {
    // ---- setup: one busybox rootfs, imported into berth and into Podman
    const rootfs = makeRootfs(path.join(tmp, "rootfs"));
    const tarball = path.join(tmp, "rootfs.tar");
    must(run("tar", ["-C", rootfs, "-cf", tarball, "."], env), "tar");
    rmSync(rootfs, { recursive: true, force: true });
    must(berth(WARM, ["import", tarball, "busybox:latest"]), "berth import");
    if (hasPodman) {
      mkdirSync(path.join(tmp, "podman-tmpdir"));
      // Podman's rootful defaults (nofile 1048576, nproc 32768) above the host's hard limits
      // are refused by every runtime: the host's own hard limits instead (nofile 20000 here)
      const nofile = Math.min(hardLimit("Max open files"), 1048576);
      const nproc = Math.min(hardLimit("Max processes"), 32768);
      writeFileSync(
        path.join(tmp, "containers.conf"),
        ["[containers]", `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`, 'netns = "none"', "[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', ""].join("\n"),
      );
      must(podman(["import", "-q", tarball, "localhost/busybox:latest"]), "podman import");
      podmanReady = true;
    } else {
      notes.push("podman is not installed: not measured");
    }
    const docker = which("docker") ? run("docker", ["info", "--format", "{{.ServerVersion}}"], env, 5000) : undefined;
    const hasDocker = docker?.code === 0;
    notes.push(hasDocker ? `docker ${docker.stdout.trim()} answers` : `docker: no daemon answers (${docker ? (docker.stderr.trim().split("\n")[0] ?? "") : "not installed"}): not measured`);
    if (hasDocker) {
      const imp = run("docker", ["import", tarball, "berth-bench-busybox:latest"], env);
      if (imp.code !== 0) notes.push(`docker import failed: ${imp.stderr.trim()}`);
    }

    // ---- run --rm busybox true, engines interleaved in a rotating order
    const engines: Engine[] = [
      { name: "berth (Direct)", run: () => berth(DIRECT, ["run", "--rm", "--network", "none", "busybox", "true"]) },
      { name: "berth (Warm)", run: () => berth(WARM, ["run", "--rm", "--network", "none", "busybox", "true"]) },
    ];
    if (podmanReady) {
      engines.push({ name: "podman", run: () => podman(["run", "--rm", "--network", "none", "--cgroup-parent", `/${cgroupParent}/podman`, "--pull", "never", "localhost/busybox:latest", "true"]) });
    }
    if (hasDocker) engines.push({ name: "docker", run: () => run("docker", ["run", "--rm", "--network", "none", "berth-bench-busybox:latest", "true"], env) });
    const samples = new Map<string, number[]>(engines.map((e) => [e.name, []]));
    const failures = new Map<string, number>(engines.map((e) => [e.name, 0]));
    for (let i = 0; i < opts.warmup + opts.iterations; i++) {
      for (let k = 0; k < engines.length; k++) {
        const e = engines[(i + k) % engines.length]!;
        const r = e.run();
        if (r.code !== 0) {
          failures.set(e.name, failures.get(e.name)! + 1);
          notes.push(`${e.name} run ${i}: exit ${r.code}: ${r.stderr.trim().split("\n")[0]}`);
          continue;
        }
        if (i >= opts.warmup) samples.get(e.name)!.push(r.ms);
      }
    }
    const runStats = engines.map((e) => ({ engine: e.name, ...stat(samples.get(e.name)!, failures.get(e.name)!) }));

    // ---- berth ps -a with N containers present
    const created: string[] = [];
    for (let i = 0; i < opts.containers; i++) created.push(must(berth(WARM, ["create", "busybox", "true"]), "berth create").stdout.trim());
    const psSamples: Record<string, number[]> = { Direct: [], Warm: [] };
    for (let i = 0; i < opts.warmup + opts.iterations; i++) {
      for (const [name, bin] of (i % 2 ? [["Warm", WARM], ["Direct", DIRECT]] : [["Direct", DIRECT], ["Warm", WARM]]) as [string, string][]) {
        const r = must(berth(bin, ["ps", "-a"]), `berth ps -a (${name})`);
        if (r.stdout.trim().split("\n").length !== opts.containers + 1) throw new Error(`berth ps -a (${name}) listed ${r.stdout.trim().split("\n").length - 1} containers`);
        if (i >= opts.warmup) psSamples[name]!.push(r.ms);
      }
    }
    const psStats = Object.entries(psSamples).map(([p, s]) => ({ path: p, ...stat(s, 0) }));
    for (let i = 0; i < created.length; i += 50) must(berth(WARM, ["rm", ...created.slice(i, i + 50)]), "berth rm");

    // ---- the monitors' memory: N detached sleep containers
    const ids: string[] = [];
    for (let i = 0; i < opts.monitors; i++) ids.push(must(berth(WARM, ["run", "-d", "--network", "none", "busybox", "sleep", "120"]), "berth run -d").stdout.trim());
    spawnSync("sleep", ["0.5"]); // each monitor goes on from the program on disk once its container runs
    const memory = ids.map((id) => {
      const pid = (JSON.parse(must(berth(WARM, ["inspect", id]), "berth inspect").stdout)[0] as { State: { Pid: number } }).State.Pid;
      const monitor = ppid(pid);
      return { monitor, ...processMemory(monitor) };
    });
    must(berth(WARM, ["rm", "-f", ...ids]), "berth rm -f");
    let conmon: { rssKb: number; pssKb: number } | undefined;
    if (podmanReady) {
      const id = podman(["run", "-d", "--network", "none", "--cgroup-parent", `/${cgroupParent}/podman`, "--pull", "never", "localhost/busybox:latest", "sleep", "120"]);
      if (id.code === 0) {
        const pid = Number(podman(["inspect", "--format", "{{.State.ConmonPid}}", id.stdout.trim()]).stdout.trim());
        if (pid > 0) conmon = processMemory(pid);
        podman(["rm", "--force", "--time", "0", id.stdout.trim()]);
      }
    }
    const mem = {
      containers: memory.length,
      rssKb: summary(memory.map((m) => m.rssKb)),
      pssKb: summary(memory.map((m) => m.pssKb)),
      conmon,
    };

    const result = { iterations: opts.iterations, warmup: opts.warmup, run: runStats, ps: { containers: opts.containers, paths: psStats }, monitorMemory: mem, notes };
    if (opts.json) {
      process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    } else {
      const podmanRun = runStats.find((r) => r.engine === "podman");
      const out: string[] = [];
      out.push(`berth run --rm busybox true: ${opts.iterations} runs each (+${opts.warmup} warm-up), ms`, "");
      out.push("| engine | median | p90 | podman ÷ this (medians) |", "| --- | --- | --- | --- |");
      for (const r of runStats) out.push(`| ${r.engine} | ${fmt(r.median)} | ${fmt(r.p90)} | ${podmanRun && Number.isFinite(podmanRun.median) ? (podmanRun.median / r.median).toFixed(2) + "×" : "–"} |`);
      out.push("", `berth ps -a with ${opts.containers} containers present, ms`, "", "| path | median | p90 |", "| --- | --- | --- |");
      for (const p of psStats) out.push(`| ${p.path} | ${fmt(p.median)} | ${fmt(p.p90)} |`);
      out.push("", `monitor memory per running container (${mem.containers} detached sleep containers), kB`, "", "| process | VmRSS mean / max | Pss mean / max |", "| --- | --- | --- |");
      out.push(`| berth monitor | ${mem.rssKb.mean.toFixed(0)} / ${mem.rssKb.max} | ${mem.pssKb.mean.toFixed(0)} / ${mem.pssKb.max} |`);
      if (conmon) out.push(`| conmon (podman) | ${conmon.rssKb} | ${conmon.pssKb} |`);
      if (notes.length) out.push("", "notes:", ...notes.map((n) => `- ${n}`));
      process.stdout.write(out.join("\n") + "\n");
    }
    process.exitCode = [...failures.values()].some((f) => f > 0) ? 1 : 0;
  } finally {
    cleanup();
  }
}

function hardLimit(name: string): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith(name));
  const hard = line?.slice(26).trim().split(/\s+/)[1];
  return hard === undefined || hard === "unlimited" ? Infinity : Number(hard);
}

function summary(values: number[]): { mean: number; max: number } {
  return { mean: values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1), max: Math.max(...values) };
}

function ppid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup: shared pages divided among their users), kB */
function processMemory(pid: number): { rssKb: number; pssKb: number } {
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  const pss = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
  return { rssKb: Number(rss?.[1] ?? NaN), pssKb: Number(pss?.[1] ?? NaN) };
}

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

function rmTree(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmTree(path.join(dir, e.name));
    rmdirSync(dir);
  } catch {
    // busy or gone
  }
}

main();
