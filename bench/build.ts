// bench/build: a 5-step Dockerfile on busybox built cold (--no-cache) and then from the cache,
// by berth on the Direct path (node bin/berth) and the Warm path (native/build/berth), side by
// side with `podman build` (buildah inside) on the same busybox image (`berth save` then
// `podman load` into a throwaway podman --root). Everything lives in one temporary directory,
// removed at the end or on ctrl-c.
// Usage: node dist/bench/build.js [--iterations N] [--json]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { quantile, which } from "./common.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const DIRECT = path.join(REPO, "bin", "berth");
const WARM = path.join(REPO, "native", "build", "berth");

const DOCKERFILE = [
  "FROM busybox",
  "ENV APP=/app",
  "COPY data.txt $APP/data.txt",
  "RUN sed 's/a/b/g' $APP/data.txt > $APP/out.txt",
  "RUN echo built > $APP/stamp && ls -l $APP",
  'CMD ["cat", "/app/out.txt"]',
  "",
].join("\n");

interface Run {
  code: number;
  ms: number;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, cwd, encoding: "utf8", timeout: 300_000, stdio: ["ignore", "ignore", "pipe"] });
  return { code: r.status ?? -1, ms: Number(process.hrtime.bigint() - t0) / 1e6, stderr: r.stderr ?? "" };
}

function must(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr.trim()}`);
  return r;
}

const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "–");

function main(): void {
  const argv = process.argv.slice(2);
  let iterations = 5;
  const json = argv.includes("--json");
  const i = argv.indexOf("--iterations");
  if (i >= 0) iterations = Number(argv[i + 1]);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error("--iterations needs an integer >= 1");
  if (process.getuid?.() !== 0) throw new Error("must run as root");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "berth-bench-build-"));
  const root = path.join(tmp, "berth-root");
  const runroot = path.join(tmp, "berth-run");
  const ctx = path.join(tmp, "context");
  mkdirSync(ctx);
  writeFileSync(path.join(ctx, "Dockerfile"), DOCKERFILE);
  writeFileSync(path.join(ctx, "data.txt"), "a banana and a papaya\n".repeat(100));
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_WARM_SOCKET: path.join(tmp, "warm", "warm.sock") };
  delete env.BERTH_NO_WARM;
  const podmanEnv: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: path.join(tmp, "containers.conf"), TMPDIR: path.join(tmp, "podman-tmpdir") };
  const podmanArgs = ["--root", path.join(tmp, "podman-root"), "--runroot", path.join(tmp, "podman-runroot"), "--tmpdir", path.join(tmp, "podman-tmp"), "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
  const berth = (bin: string, args: string[]) => run(bin, ["--root", root, "--runroot", runroot, ...args], env, ctx);
  const podman = (args: string[]) => run("podman", [...podmanArgs, ...args], podmanEnv, ctx);
  const notes: string[] = [];
  const cleanup = () => {
    if (existsSync(tmp + "/podman-root")) podman(["rmi", "--all", "--force"]);
    try {
      const pid = Number(readFileSync(path.join(tmp, "warm", "warm.sock.pid"), "utf8"));
      if (pid > 0) process.kill(pid, "SIGTERM");
    } catch {
      // no service
    }
    for (const m of readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(tmp + "/")).reverse()) {
      spawnSync("umount", [m]);
      spawnSync("umount", ["-l", m]);
    }
    for (let k = 0; k < 20 && existsSync(path.join(tmp, "warm", "warm.sock")); k++) spawnSync("sleep", ["0.1"]);
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  const results: { engine: string; cold: number; cached: number }[] = [];
  try {
    must(berth(DIRECT, ["bootstrap", "busybox"]), "berth bootstrap busybox");
    const engines: { name: string; build: (noCache: boolean) => Run }[] = [
      { name: "berth (Direct)", build: (nc) => berth(DIRECT, ["build", "-q", ...(nc ? ["--no-cache"] : []), "-t", "bench:direct", "."]) },
      { name: "berth (Warm)", build: (nc) => berth(WARM, ["build", "-q", ...(nc ? ["--no-cache"] : []), "-t", "bench:warm", "."]) },
    ];
    if (which("podman")) {
      mkdirSync(path.join(tmp, "podman-tmpdir"));
      writeFileSync(path.join(tmp, "containers.conf"), ["[containers]", 'netns = "none"', "[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', ""].join("\n"));
      must(berth(DIRECT, ["save", "-o", path.join(tmp, "busybox.tar"), "busybox"]), "berth save");
      must(podman(["load", "-q", "-i", path.join(tmp, "busybox.tar")]), "podman load");
      engines.push({ name: "podman build", build: (nc) => podman(["build", "-q", "--network", "none", "--pull=never", ...(nc ? ["--no-cache"] : []), "-t", "bench:podman", "."]) });
    } else notes.push("podman is not installed: not measured");
    for (const e of engines) must(e.build(false), `${e.name} (warm-up)`);
    const samples = new Map(engines.map((e) => [e.name, { cold: [] as number[], cached: [] as number[] }]));
    // interleaved, so that machine noise hits every engine alike
    for (let k = 0; k < iterations; k++) {
      for (const e of engines) samples.get(e.name)!.cold.push(must(e.build(true), `${e.name} --no-cache`).ms);
      for (const e of engines) samples.get(e.name)!.cached.push(must(e.build(false), `${e.name} cached`).ms);
    }
    for (const e of engines) results.push({ engine: e.name, cold: median(samples.get(e.name)!.cold), cached: median(samples.get(e.name)!.cached) });
  } finally {
    cleanup();
  }
  if (json) {
    process.stdout.write(JSON.stringify({ iterations, results, notes }, null, 2) + "\n");
    return;
  }
  const podmanCached = results.find((r) => r.engine === "podman build")?.cached ?? NaN;
  const out = [`5-step Dockerfile on busybox, ${iterations} iterations, medians (ms):`, "", "| engine | cold (--no-cache) | cached | cached ÷ cold | podman cached ÷ this cached |", "| --- | --- | --- | --- | --- |"];
  for (const r of results) out.push(`| ${r.engine} | ${fmt(r.cold)} | ${fmt(r.cached)} | ${(r.cached / r.cold).toFixed(2)} | ${Number.isFinite(podmanCached) ? (podmanCached / r.cached).toFixed(1) + "×" : "–"} |`);
  for (const n of notes) out.push("", `note: ${n}`);
  process.stdout.write(out.join("\n") + "\n");
}

main();
