// bench/runtime: berth's OCI runtime side by side with runc (and crun, and the warm
// front-end when BERTH_OCI_WARM names it). Two scenarios, each runtime on the same bundle:
//   run                    `<rt> --root R run --bundle B ID` of /bin/true
//   create→start→delete    `create`, `start`, `delete --force`: the three commands' total
// plus `node -e 0`, the floor under any Direct-path berth-oci invocation (DESIGN.md,
// "Start-up speed"). Runtimes are interleaved within each iteration so that a noisy
// machine hurts them alike. Usage: node dist/bench/runtime.js [--iterations N] [--warmup N] [--json]
import { spawn, spawnSync } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultSpec } from "../src/oci/index.js";
import { makeRootfs } from "../test/helpers/oci.js";
import { killGroup, stats, which, type Stats } from "./common.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const BERTH_OCI = path.join(REPO, "bin", "berth-oci");
const BUSYBOX = "/bin/busybox";
/** Per command (a healthy one takes well under a second); a hang costs this much, once or twice. */
const COMMAND_TIMEOUT_MS = 10_000;
/** A runtime that fails this many iterations of a scenario is dropped from it. */
const MAX_FAILURES = 3;

// ---------------------------------------------------------------- options

interface Options {
  iterations: number;
  warmup: number;
  json: boolean;
}

function usage(): string {
  return [
    "usage: node dist/bench/runtime.js [--iterations N] [--warmup N] [--json]",
    "",
    "  --iterations N  measured iterations per runtime and scenario (default 20)",
    "  --warmup N      unmeasured iterations first (default 2)",
    "  --json          print a JSON document instead of the table",
    "",
    "Runtimes: berth-oci (node bin/berth-oci), runc, crun if installed, and",
    "\"berth-oci (warm)\" when BERTH_OCI_WARM names an executable. Must run as root.",
  ].join("\n");
}

function parseOptions(argv: string[]): Options {
  const o: Options = { iterations: 20, warmup: 2, json: false };
  const count = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}\n\n${usage()}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    switch (flag) {
      case "--iterations":
      case "-n":
        o.iterations = count(flag, inline ?? argv[++i], 1);
        break;
      case "--warmup":
        o.warmup = count(flag, inline ?? argv[++i], 0);
        break;
      case "--json":
        o.json = true;
        break;
      case "--help":
      case "-h":
        process.stdout.write(usage() + "\n");
        process.exit(0);
      default:
        fail(`unknown argument ${JSON.stringify(a)}\n\n${usage()}`);
    }
  }
  return o;
}

function fail(msg: string): never {
  process.stderr.write(`bench/runtime: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- runtimes

interface Runtime {
  /** column name */
  name: string;
  /** argv before the runtime's own arguments */
  argv: string[];
  /** --root of this runtime's containers */
  root: string;
  /** short id-safe tag */
  tag: string;
  version?: string;
}


function versionOf(argv: string[]): string | undefined {
  const r = spawnSync(argv[0]!, [...argv.slice(1), "--version"], { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? r.stdout.split("\n")[0]?.trim() : undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findRuntimes(tmp: string): { runtimes: Runtime[]; notes: string[] } {
  const notes: string[] = [];
  const runtimes: Runtime[] = [];
  const add = (name: string, tag: string, argv: string[]) =>
    runtimes.push({ name, tag, argv, root: path.join(tmp, "root", tag), version: versionOf(argv) });

  add("berth-oci", "berth", [process.execPath, BERTH_OCI]);
  // the warm C front-end of this checkout unless BERTH_OCI_WARM names another; its service
  // gets a socket in our temp dir, and is stopped by its pid at the end
  const warm = process.env.BERTH_OCI_WARM ?? path.join(REPO, "native", "build", "berth-oci");
  process.env.BERTH_WARM_SOCKET = path.join(tmp, "warm", "warm.sock");
  if (warm) {
    const p = path.resolve(warm);
    if (isExecutable(p)) add("berth-oci (warm)", "warm", [p]);
    else notes.push(`BERTH_OCI_WARM=${warm} is not an executable file; the warm column is skipped`);
  }
  const runc = which("runc") ?? (isExecutable("/usr/sbin/runc") ? "/usr/sbin/runc" : undefined);
  if (runc) add("runc", "runc", [runc]);
  else notes.push("runc not found: no ratios can be computed (apt-get install runc)");
  const crun = which("crun");
  if (crun) add("crun", "crun", [crun]);
  return { runtimes, notes };
}

// ---------------------------------------------------------------- bundle

/**
 * One config.json for every runtime. No linux.cgroupsPath: each runtime then names the
 * cgroup after the (unique) container id — runc /<id>, berth-oci /berth/<id> — so no two
 * runs share a cgroup.
 */
function makeBundle(tmp: string): string {
  const rootfs = makeRootfs(path.join(tmp, "rootfs"));
  const bundle = path.join(tmp, "bundle");
  mkdirSync(bundle, { recursive: true });
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = ["/bin/true"];
  spec.root = { path: rootfs, readonly: true };
  delete spec.linux!.cgroupsPath;
  writeFileSync(path.join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  return bundle;
}

// ---------------------------------------------------------------- running commands

interface Outcome {
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  timedOut: boolean;
}

let interrupted = false;
let errSeq = 0;
/** the command in flight, whose process group a second ctrl-c kills */
let inFlight: number | undefined;


/**
 * Runs one command and returns its wall time (spawn to exit). stdin/stdout are /dev/null;
 * stderr goes to a file (a created container keeps its stdio, so no pipes), read only on
 * failure. The child gets its own session so a ctrl-c reaches only us: the command in
 * flight finishes and the cleanup deletes what it made.
 */
function time(argv: string[], tmp: string): Promise<Outcome> {
  const errPath = path.join(tmp, `stderr.${errSeq++}`);
  const errFd = openSync(errPath, "w");
  return new Promise((resolve) => {
    let timedOut = false;
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", errFd], detached: true });
    inFlight = child.pid;
    const timer = setTimeout(() => {
      timedOut = true;
      // the whole process group (its own, as detached): helpers a hung runtime started go too
      if (child.pid) killGroup(child.pid);
    }, COMMAND_TIMEOUT_MS);
    const done = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      inFlight = undefined;
      clearTimeout(timer);
      closeSync(errFd);
      let stderr = spawnError ? String(spawnError) : "";
      if (code !== 0 && !spawnError) stderr = readFileSync(errPath, "utf8");
      rmSync(errPath, { force: true });
      resolve({ ms, code, signal, stderr: stderr.trim(), timedOut });
    };
    child.once("error", (e) => done(null, null, e));
    child.once("exit", (code, signal) => done(code, signal));
  });
}

function describe(o: Outcome, argv: string[]): string {
  const cmd = argv.map((a) => path.basename(a)).join(" ");
  const how = o.timedOut ? `timed out after ${COMMAND_TIMEOUT_MS / 1000} s` : o.signal ? `killed by ${o.signal}` : `exit ${o.code}`;
  return `\`${cmd}\` ${how}${o.stderr ? `: ${o.stderr.split("\n").slice(0, 3).join(" | ")}` : ""}`;
}

const rt = (r: Runtime, ...args: string[]) => [...r.argv, "--root", r.root, ...args];

// ---------------------------------------------------------------- scenarios

interface Scenario {
  key: "run" | "createStartDelete";
  label: string;
  /** one iteration: the measured time in ms (and per-step times), or an error */
  once(r: Runtime, id: string, bundle: string, tmp: string): Promise<{ ms: number; steps?: Record<string, number> } | { error: string }>;
}

const SCENARIOS: Scenario[] = [
  {
    key: "run",
    label: "run /bin/true",
    async once(r, id, bundle, tmp) {
      const argv = rt(r, "run", "--bundle", bundle, id);
      const o = await time(argv, tmp);
      return o.code === 0 ? { ms: o.ms } : { error: describe(o, argv) };
    },
  },
  {
    key: "createStartDelete",
    label: "create→start→delete",
    async once(r, id, bundle, tmp) {
      const steps: Record<string, number> = {};
      const plan: [string, string[]][] = [
        ["create", rt(r, "create", "--bundle", bundle, id)],
        ["start", rt(r, "start", id)],
        ["delete", rt(r, "delete", "--force", id)],
      ];
      for (const [step, argv] of plan) {
        const o = await time(argv, tmp);
        if (o.code !== 0) {
          // don't let a half-made container pile up until the final cleanup (untimed)
          if (step !== "delete") await time(rt(r, "delete", "--force", id), tmp);
          return { error: describe(o, argv) };
        }
        steps[step] = o.ms;
      }
      return { ms: steps.create! + steps.start! + steps.delete!, steps };
    },
  },
];

// ---------------------------------------------------------------- statistics




// ---------------------------------------------------------------- cleanup

/** Every container left under each runtime's root is force-deleted, then the temp dir goes. */
async function cleanup(runtimes: Runtime[], tmp: string, ids: Set<string>): Promise<string[]> {
  const problems: string[] = [];
  for (const r of runtimes) {
    let left: string[] = [];
    try {
      left = readdirSync(r.root);
    } catch {
      continue; // never used
    }
    for (const id of left) {
      const argv = rt(r, "delete", "--force", id);
      const o = await time(argv, tmp);
      if (o.code !== 0) problems.push(`cleanup: ${describe(o, argv)}`);
    }
  }
  // cgroups named after our ids (runc: /<id>, berth-oci: /berth/<id>) should be gone; an
  // empty one left behind is removed and reported
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync("/sys/fs/cgroup");
  } catch {
    /* no cgroupfs */
  }
  for (const id of ids) {
    for (const h of hierarchies) {
      for (const p of [path.join("/sys/fs/cgroup", h, id), path.join("/sys/fs/cgroup", h, "berth", id)]) {
        if (!existsSync(p)) continue;
        try {
          rmdirSync(p);
          problems.push(`cgroup ${p} was left behind (removed)`);
        } catch (e) {
          problems.push(`cgroup ${p} was left behind and could not be removed: ${(e as Error).message}`);
        }
      }
    }
  }
  try {
    const warmPid = path.join(tmp, "warm", "warm.sock.pid");
    if (existsSync(warmPid)) {
      try {
        process.kill(Number(readFileSync(warmPid, "utf8")), "SIGTERM");
      } catch {
        // already gone
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  } catch (e) {
    problems.push(`could not remove ${tmp}: ${(e as Error).message}`);
  }
  return problems;
}

// ---------------------------------------------------------------- report

interface RuntimeResult {
  stats?: Stats;
  /** create→start→delete only: medians of the single commands */
  stepMediansMs?: Record<string, number>;
  samplesMs: number[];
  /** failed iterations (not in the figures), each with the failing command's message */
  failures: string[];
  /** true when MAX_FAILURES were reached and the runtime left the scenario */
  gaveUp: boolean;
}

interface Report {
  machine: { cpus: number; cpuModel: string; kernel: string; node: string; loadavg: number[] };
  iterations: number;
  warmup: number;
  runtimes: { name: string; argv: string[]; version?: string }[];
  nodeFloor?: Stats & { samplesMs: number[] };
  scenarios: Record<string, { label: string; results: Record<string, RuntimeResult> }>;
  ratios: { scenario: string; runtime: string; vs: string; ratio: number }[];
  notes: string[];
  interrupted: boolean;
  totalSeconds: number;
}

const fmt = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(1));

function ratioText(ratio: number, who: string): string {
  return `${ratio.toFixed(2)}x (${who} ${ratio >= 1 ? "slower" : "faster"})`;
}

function human(rep: Report): string {
  const out: string[] = [];
  const names = rep.runtimes.map((r) => r.name);
  out.push(
    `berth OCI runtime bench — ${rep.iterations} iterations (+${rep.warmup} warmup), ` +
      `${rep.machine.cpus} CPUs, ${rep.machine.kernel}, node ${rep.machine.node}`,
  );
  for (const r of rep.runtimes) out.push(`  ${r.name.padEnd(18)} ${r.argv.join(" ")}${r.version ? `  (${r.version})` : ""}`);
  out.push("");
  const head = ["scenario", ...names.flatMap((n) => [`${n} med`, `p90`])];
  const rows: string[][] = [];
  for (const [, sc] of Object.entries(rep.scenarios)) {
    rows.push([sc.label, ...names.flatMap((n) => [fmt(sc.results[n]?.stats?.medianMs), fmt(sc.results[n]?.stats?.p90Ms)])]);
  }
  if (rep.nodeFloor) rows.push(["node -e 0 (floor)", fmt(rep.nodeFloor.medianMs), fmt(rep.nodeFloor.p90Ms), ...names.slice(1).flatMap(() => ["", ""])]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  out.push(line(head) + "   (ms)");
  out.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out.push(line(r));

  const csd = rep.scenarios.createStartDelete;
  if (csd) {
    const steps = names
      .filter((n) => csd.results[n]?.stepMediansMs)
      .map((n) => {
        const s = csd.results[n]!.stepMediansMs!;
        return `  ${n.padEnd(18)} create ${fmt(s.create)}  start ${fmt(s.start)}  delete ${fmt(s.delete)}`;
      });
    if (steps.length) out.push("", "create→start→delete, median ms of each command:", ...steps);
  }

  out.push("");
  for (const [key, sc] of Object.entries(rep.scenarios)) {
    const runc = sc.results.runc?.stats;
    for (const n of names.filter((n) => n.startsWith("berth-oci"))) {
      const b = sc.results[n]?.stats;
      if (!b) continue;
      const name = key === "run" ? "run" : "create→start→delete";
      if (runc) {
        const ratio = b.medianMs / runc.medianMs;
        out.push(`${n} ${name}: median ${fmt(b.medianMs)} ms, runc ${fmt(runc.medianMs)} ms, ratio ${ratioText(ratio, "berth")}`);
      } else {
        out.push(`${n} ${name}: median ${fmt(b.medianMs)} ms (no runc figure to compare)`);
      }
    }
  }
  if (rep.nodeFloor) {
    const b = rep.scenarios.run?.results["berth-oci"]?.stats;
    out.push(
      `node -e 0 (start-up floor of every Direct-path berth-oci call): median ${fmt(rep.nodeFloor.medianMs)} ms, p90 ${fmt(rep.nodeFloor.p90Ms)} ms` +
        (b ? `; berth-oci run above the floor: ${fmt(b.medianMs - rep.nodeFloor.medianMs)} ms` : ""),
    );
  }
  const errors = Object.values(rep.scenarios).flatMap((sc) =>
    Object.entries(sc.results)
      .filter(([, r]) => r.failures.length)
      .flatMap(([n, r]) => [
        `${sc.label} / ${n}: ${r.failures.length} failed iteration(s)${r.gaveUp ? ", gave up on it" : ""}; ` +
          `its figures come from ${r.stats?.n ?? 0} iteration(s):`,
        ...r.failures.map((f) => `    ${f}`),
      ]),
  );
  if (errors.length || rep.notes.length) {
    out.push("", "notes:");
    for (const e of [...errors, ...rep.notes]) out.push(e.startsWith(" ") ? `  ${e}` : `  - ${e}`);
  }
  if (rep.interrupted) out.push("", "INTERRUPTED: figures cover the iterations that finished.");
  out.push("", `total ${rep.totalSeconds.toFixed(1)} s; load average ${rep.machine.loadavg.map((x) => x.toFixed(2)).join(" ")}`);
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      "bench/runtime: must run as root (containers need real namespaces, mounts and cgroups);\n" +
        "  try: sudo node dist/bench/runtime.js\n",
    );
    return 1;
  }
  if (!existsSync(BUSYBOX)) fail(`${BUSYBOX} is missing (apt-get install busybox-static)`);
  if (!existsSync(path.join(REPO, "dist", "src", "cli", "berth-oci", "main.js"))) fail("dist/ is not built: run `npm run build` first");

  const started = process.hrtime.bigint();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "berth-bench-"));
  const ids = new Set<string>();
  const { runtimes, notes } = findRuntimes(tmp);

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    interrupted = true;
    if (signals === 1) process.stderr.write(`\nbench/runtime: ${sig}: stopping after the current command, then cleaning up…\n`);
    else {
      process.stderr.write(`bench/runtime: ${sig} again: killing the command in flight; still cleaning up ${tmp}, please wait\n`);
      if (inFlight) killGroup(inFlight);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  const progress = (s: string) => {
    if (!opts.json && process.stderr.isTTY) process.stderr.write(`\r\x1b[K${s}`);
  };

  const report: Report = {
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "?",
      kernel: `${os.type()} ${os.release()}`,
      node: process.versions.node,
      loadavg: os.loadavg(),
    },
    iterations: opts.iterations,
    warmup: opts.warmup,
    runtimes: runtimes.map((r) => ({ name: r.name, argv: r.argv, version: r.version })),
    scenarios: {},
    ratios: [],
    notes,
    interrupted: false,
    totalSeconds: 0,
  };

  let cleanupProblems: string[] = [];
  try {
    const bundle = makeBundle(tmp);
    for (const r of runtimes) mkdirSync(r.root, { recursive: true });

    // Node start-up floor
    const floor: number[] = [];
    for (let i = 0; i < opts.warmup + opts.iterations && !interrupted; i++) {
      progress(`node -e 0 ${i + 1}/${opts.warmup + opts.iterations}`);
      const o = await time([process.execPath, "-e", "0"], tmp);
      if (o.code !== 0) throw new Error(describe(o, [process.execPath, "-e", "0"]));
      if (i >= opts.warmup) floor.push(o.ms);
    }
    const floorStats = stats(floor, 2);
    if (floorStats) report.nodeFloor = { ...floorStats, samplesMs: floor.map((x) => Math.round(x * 100) / 100) };

    let seq = 0;
    for (const sc of SCENARIOS) {
      const results: Record<string, RuntimeResult> = {};
      const steps: Record<string, Record<string, number[]>> = {};
      for (const r of runtimes) {
        results[r.name] = { samplesMs: [], failures: [], gaveUp: false };
        steps[r.name] = {};
      }
      report.scenarios[sc.key] = { label: sc.label, results };
      const total = opts.warmup + opts.iterations;
      for (let i = 0; i < total && !interrupted; i++) {
        // interleaved: every runtime once per iteration, in a rotating order
        const order = runtimes.map((_, k) => runtimes[(k + i) % runtimes.length]!);
        for (const r of order) {
          if (interrupted) break;
          const res = results[r.name]!;
          if (res.gaveUp) continue;
          progress(`${sc.label}: ${r.name} ${i + 1}/${total}`);
          const id = `bb${process.pid}-${r.tag}-${sc.key === "run" ? "r" : "c"}${seq++}`;
          ids.add(id);
          const o = await sc.once(r, id, bundle, tmp);
          if ("error" in o) {
            res.failures.push(`${i < opts.warmup ? "warmup" : "iteration"} ${i + 1}: ${o.error}`);
            res.gaveUp = res.failures.length >= MAX_FAILURES;
            continue;
          }
          if (i < opts.warmup) continue;
          res.samplesMs.push(Math.round(o.ms * 100) / 100);
          for (const [k, v] of Object.entries(o.steps ?? {})) (steps[r.name]![k] ??= []).push(v);
        }
      }
      for (const r of runtimes) {
        const res = results[r.name]!;
        res.stats = stats(res.samplesMs, 2);
        const st = Object.entries(steps[r.name]!);
        if (st.length) res.stepMediansMs = Object.fromEntries(st.map(([k, v]) => [k, stats(v, 2)!.medianMs]));
      }
      const runc = results.runc?.stats;
      if (runc) {
        for (const r of runtimes.filter((r) => r.name !== "runc")) {
          const s = results[r.name]!.stats;
          if (s) report.ratios.push({ scenario: sc.key, runtime: r.name, vs: "runc", ratio: Math.round((s.medianMs / runc.medianMs) * 1000) / 1000 });
        }
      }
    }
    progress("cleaning up…");
  } catch (e) {
    notes.push(`aborted: ${(e as Error).stack ?? String(e)}`);
  } finally {
    cleanupProblems = await cleanup(runtimes, tmp, ids);
    progress("");
  }
  notes.push(...cleanupProblems);
  report.interrupted = interrupted;
  report.totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;

  process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : human(report));
  const failed = Object.values(report.scenarios).some((sc) => Object.values(sc.results).some((r) => r.failures.length > 0));
  return interrupted ? 130 : failed || notes.some((n) => n.startsWith("aborted")) ? 1 : 0;
}

process.exitCode = await main();
