// bench/network: the cost of a bridge network per run — `berth run --rm busybox true` with
// `--network none` against a berth bridge network (the CNI plugins' ADD and DEL) — and
// container-to-container TCP throughput over the bridge against the host's loopback (iperf3
// from Debian, run in the containers' named netns with `ip netns exec`, so the container needs
// no iperf3 of its own). Traffic only between the bench's own namespaces, or on 127.0.0.1.
// Everything (root, network, bridge, netns, rules) is removed at the end.
// With podman installed, also `podman run --rm` with its default CNI bridge against its
// `--network none`: podman gets a throwaway --root/--runroot/--tmpdir/--network-config-dir
// and cgroup parent; its bridge (cni-podman0), the CNI chains it leaves, its cgroups and
// /var/lib/cni (when the bench made it) are removed at the end.
// Usage: node dist/bench/network.js [--iterations N] [--seconds S] [--json]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dropEmptyChains } from "../src/network/index.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const BERTH = path.join(REPO, "bin", "berth");
const TIMEOUT_MS = 60_000;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!(v > 0)) throw new Error(`${name}: expected a positive number`);
  return v;
}

const iterations = arg("--iterations", 10);
const seconds = arg("--seconds", 3);
const json = process.argv.includes("--json");

const dir = mkdtempSync(path.join(os.tmpdir(), "berth-bench-net-"));
const root = path.join(dir, "root");
const runroot = path.join(dir, "run");
const net = `bench${process.pid % 100000}`;

function sh(cmd: string, args: string[]): { code: number; ms: number; stdout: string; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: TIMEOUT_MS, killSignal: "SIGKILL" });
  return { code: r.status ?? 137, ms: performance.now() - t0, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

// podman, all of it under `dir`; the bridge and /var/lib/cni are the host's and go at the end
const podmanDir = path.join(dir, "podman");
const cgroupParent = path.basename(dir);
const podmanEnv: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: path.join(podmanDir, "containers.conf"), TMPDIR: path.join(podmanDir, "tmpdir") };
const podmanArgs = ["--root", path.join(podmanDir, "root"), "--runroot", path.join(podmanDir, "runroot"), "--tmpdir", path.join(podmanDir, "tmp"), "--network-config-dir", path.join(podmanDir, "networks"), "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"];
const hasPodman = ["podman", "conmon"].every((t) => sh("sh", ["-c", `command -v ${t}`]).code === 0);
const hadVarLibCni = existsSync("/var/lib/cni");
const hadPodmanBridge = existsSync("/sys/class/net/cni-podman0");
let podmanReady = false;

function podman(args: string[]) {
  const t0 = performance.now();
  const r = spawnSync("podman", [...podmanArgs, ...args], { encoding: "utf8", timeout: TIMEOUT_MS, killSignal: "SIGKILL", env: podmanEnv });
  const out = { code: r.status ?? 137, ms: performance.now() - t0, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  if (out.code !== 0) throw new Error(`podman ${args.join(" ")}: exit ${out.code}: ${out.stderr.trim()}`);
  return out;
}

function rmTree(d: string): void {
  try {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmTree(path.join(d, e.name));
    rmdirSync(d);
  } catch {
    // busy or gone
  }
}

function berth(args: string[]) {
  const r = sh(BERTH, ["--root", root, "--runroot", runroot, ...args]);
  if (r.code !== 0) throw new Error(`berth ${args.join(" ")}: exit ${r.code}: ${r.stderr.trim()}`);
  return r;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** An iperf3 server (one test, then it exits) in `ns` (or on the host), and a client's bits/s. */
async function iperf(serverNs: string | undefined, clientNs: string | undefined, address: string, port: number): Promise<number> {
  const wrap = (ns: string | undefined, a: string[]) => (ns ? ["ip", ["netns", "exec", ns, "iperf3", ...a]] : ["iperf3", a]) as [string, string[]];
  const [scmd, sargs] = wrap(serverNs, ["-s", "-1", "-B", address, "-p", String(port)]);
  const server = spawn(scmd, sargs, { stdio: "ignore" });
  try {
    // bounded: the server listens within a moment
    for (let i = 0; i < 40; i++) {
      const [ccmd, cargs] = wrap(clientNs, ["-c", address, "-p", String(port), "-t", String(seconds), "-J"]);
      const r = sh(ccmd, cargs);
      if (r.code === 0) return (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`iperf3 to ${address}:${port} never connected`);
  } finally {
    if (server.exitCode === null && server.pid) process.kill(server.pid, "SIGKILL");
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("must run as root (namespaces, bridges, iptables)");
  if (!existsSync("/usr/bin/iperf3")) throw new Error("iperf3 is not installed (apt-get install iperf3)");
  berth(["bootstrap", "busybox"]);
  const routes = sh("ip", ["-4", "route", "show", "table", "all"]).stdout;
  const third = [...Array(250).keys()].find((i) => !routes.includes(`10.244.${i}.`));
  berth(["network", "create", "--subnet", `10.244.${third}.0/24`, net]);
  const none: number[] = [];
  const bridge: number[] = [];
  berth(["run", "--rm", "busybox", "true"]); // warm the page cache
  berth(["run", "--rm", "--network", net, "busybox", "true"]);
  for (let i = 0; i < iterations; i++) {
    none.push(berth(["run", "--rm", "--network", "none", "busybox", "true"]).ms);
    bridge.push(berth(["run", "--rm", "--network", net, "busybox", "true"]).ms);
  }
  const podNone: number[] = [];
  const podBridge: number[] = [];
  if (hasPodman) {
    mkdirSync(path.join(podmanDir, "tmpdir"), { recursive: true });
    // podman's rootful default ulimits can exceed the host's hard limits: the host's own
    writeFileSync(path.join(podmanDir, "containers.conf"), ["[containers]", 'default_ulimits = []', "[engine]", 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', ""].join("\n"));
    const tar = path.join(dir, "busybox.tar");
    const c = berth(["create", "busybox", "true"]).stdout.trim();
    berth(["export", "-o", tar, c]);
    berth(["rm", c]);
    podman(["import", "-q", tar, "localhost/busybox:latest"]);
    podmanReady = true;
    const run = (network: string[]) => podman(["run", "--rm", ...network, "--cgroup-parent", `/${cgroupParent}/podman`, "--pull", "never", "localhost/busybox:latest", "true"]).ms;
    run(["--network", "none"]);
    run([]);
    for (let i = 0; i < iterations; i++) {
      podNone.push(run(["--network", "none"]));
      podBridge.push(run([])); // podman's default network: its CNI bridge (cni-podman0, 10.88.0.0/16)
    }
  }
  const ids = [1, 2].map(() => berth(["run", "-d", "--network", net, "busybox", "sleep", "600"]).stdout.trim());
  const ip1 = (JSON.parse(berth(["inspect", ids[0]!]).stdout)[0] as { NetworkSettings: { IPAddress: string } }).NetworkSettings.IPAddress;
  const ns = ids.map((id) => `berth-${id.slice(0, 12)}`);
  const overBridge = await iperf(ns[0], ns[1], ip1, 5201);
  const loopback = await iperf(undefined, undefined, "127.0.0.1", 15201 + (process.pid % 1000));
  const out = {
    runNoneMs: Math.round(median(none)),
    runBridgeMs: Math.round(median(bridge)),
    bridgeCostMs: Math.round(median(bridge) - median(none)),
    ...(hasPodman
      ? { podmanNoneMs: Math.round(median(podNone)), podmanBridgeMs: Math.round(median(podBridge)), podmanBridgeCostMs: Math.round(median(podBridge) - median(podNone)) }
      : { podman: "not installed: not measured" }),
    iterations,
    bridgeGbps: +(overBridge / 1e9).toFixed(2),
    loopbackGbps: +(loopback / 1e9).toFixed(2),
    seconds,
  };
  if (json) process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  else {
    process.stdout.write(`berth run --rm busybox true, median of ${iterations}:\n`);
    process.stdout.write(`  --network none     ${out.runNoneMs} ms\n  --network bridge   ${out.runBridgeMs} ms  (+${out.bridgeCostMs} ms: CNI ADD and DEL)\n`);
    if ("podmanNoneMs" in out) process.stdout.write(`podman run --rm busybox true, median of ${iterations}:\n  --network none     ${out.podmanNoneMs} ms\n  its CNI bridge     ${out.podmanBridgeMs} ms  (+${out.podmanBridgeCostMs} ms)\n`);
    process.stdout.write(`TCP throughput, iperf3 ${seconds} s:\n  container to container over the bridge  ${out.bridgeGbps} Gbit/s\n  host loopback                           ${out.loopbackGbps} Gbit/s\n`);
  }
}

try {
  await main();
} finally {
  for (const id of sh(BERTH, ["--root", root, "--runroot", runroot, "ps", "-aq"]).stdout.split("\n").filter(Boolean)) sh(BERTH, ["--root", root, "--runroot", runroot, "rm", "-f", id]);
  sh(BERTH, ["--root", root, "--runroot", runroot, "network", "rm", net]);
  sh(BERTH, ["--root", root, "--runroot", runroot, "network", "prune"]);
  if (podmanReady) spawnSync("podman", [...podmanArgs, "rm", "--all", "--force", "--time", "0"], { env: podmanEnv, timeout: TIMEOUT_MS });
  if (hasPodman) {
    // what podman's CNI bridge leaves on the host: its bridge, the plugins' empty chains, its IPAM and cache
    if (!hadPodmanBridge && existsSync("/sys/class/net/cni-podman0")) sh("ip", ["link", "delete", "cni-podman0"]);
    dropEmptyChains();
    if (!hadVarLibCni) rmSync("/var/lib/cni", { recursive: true, force: true });
    for (const h of readdirSync("/sys/fs/cgroup")) rmTree(path.join("/sys/fs/cgroup", h, cgroupParent));
    for (const m of sh("cat", ["/proc/mounts"]).stdout.split("\n").map((l) => l.split(" ")[1] ?? "").filter((m) => m.startsWith(dir + "/")).reverse()) sh("umount", ["-l", m]);
  }
  rmSync(dir, { recursive: true, force: true });
}
