// A pod's infra: its one CNI attachment (netns berth-<id12>, keyed by the pod's ID as a
// container's is by its own) and the pause process from native/ (berth-pause) that holds the
// shared IPC, UTS and PID namespaces. Containers join them by path when they start.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import path from "node:path";
import { internal, unavailable } from "../../errors.js";
import { withLock } from "../../image/lock.js";
import { createNetns } from "../../network/index.js";
import { procStat, sendSignal, sleep } from "../../sys/index.js";
import { pauseBinary, type EngineContext } from "../context.js";
import type { PodRow } from "../db.js";
import { attachContainer, containerNetns, detachContainer, netnsPath } from "../networks.js";
import { infraRunning, podConfig, podRunDir } from "./record.js";

/** One berth at a time starts or stops a pod's infra: two `run --pod` at once make one pause process. */
function podLock<T>(ctx: EngineContext, id: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(ctx.runroot, "pods", `${id}.lock`);
  fs.mkdirSync(path.dirname(lock), { recursive: true, mode: 0o711 });
  return withLock(lock, `pod ${id.slice(0, 12)}`, fn);
}

/** The pod's /etc/hosts, /etc/hostname and /etc/resolv.conf, shared by its containers. */
function writeEtc(dir: string, hostname: string, hostNetwork: boolean): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const hosts = hostNetwork ? fs.readFileSync("/etc/hosts", "utf8") : `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`;
  fs.writeFileSync(path.join(dir, "hosts"), hosts);
  fs.writeFileSync(path.join(dir, "hostname"), `${hostname}\n`);
  let resolv = "";
  try {
    resolv = fs.readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    // none on the host
  }
  // a resolver on the host's loopback cannot be reached from another network namespace
  if (!hostNetwork) resolv = resolv.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l)).join("\n");
  fs.writeFileSync(path.join(dir, "resolv.conf"), resolv);
}

/** Starts the pod's infra unless it runs; returns the record as it is then. Undone whole on failure. */
export function startInfra(ctx: EngineContext, id: string): Promise<PodRow> {
  return podLock(ctx, id, async () => {
    const pod = ctx.db.pod(id);
    if (!pod) throw internal(`pod ${id.slice(0, 12)} was removed while starting`);
    if (infraRunning(pod)) return pod;
    const c = podConfig(pod);
    const bin = pauseBinary();
    if (!fs.existsSync(bin)) throw unavailable(`${bin} is missing: build it with make -C native`);
    await releaseInfra(ctx, pod); // a crashed start's leftovers
    const args: string[] = [];
    try {
      writeEtc(podRunDir(ctx, id), c.hostname, c.share.includes("net") && c.network === "host");
      if (c.share.includes("net") && c.network !== "host") {
        if (c.network === "none") {
          // loopback only: a named netns of its own with lo up (no CNI attachment)
          createNetns(containerNetns(id));
          const up = spawnSync("ip", ["-n", containerNetns(id), "link", "set", "lo", "up"], { encoding: "utf8", timeout: 30_000 });
          if (up.status !== 0) throw internal(`ip -n ${containerNetns(id)} link set lo up: ${(up.stderr || up.error?.message || "").trim()}`);
        } else await attachContainer(ctx, id, c.network, c.ports);
        args.push("--netns", netnsPath(containerNetns(id)));
      }
      if (c.share.includes("ipc")) args.push("--ipc");
      if (c.share.includes("uts")) args.push("--uts", "--hostname", c.hostname);
      if (c.share.includes("pid")) args.push("--pid");
      const r = spawnSync(bin, args, { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "pipe"] });
      const pid = Number(r.stdout.trim());
      if (r.status !== 0 || !(pid > 0)) throw internal(`pod ${pod.name}: its infra process did not start: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
      const infraStart = procStat(pid)?.startTime ?? null;
      ctx.db.updatePod(id, { infraPid: pid, infraStart, startedAt: new Date().toISOString() });
      return ctx.db.pod(id)!;
    } catch (e) {
      await releaseInfra(ctx, pod);
      throw e;
    }
  });
}

/** Ends the pause process (SIGTERM, then SIGKILL after 5 s) and removes the netns, CNI attachment and run dir. */
export function stopInfra(ctx: EngineContext, id: string): Promise<void> {
  return podLock(ctx, id, async () => {
    const pod = ctx.db.pod(id);
    if (pod) await releaseInfra(ctx, pod);
  });
}

async function releaseInfra(ctx: EngineContext, pod: PodRow): Promise<void> {
  if (infraRunning(pod)) {
    sendSignal(pod.infraPid, 15); // SIGTERM
    for (let i = 0; i < 500 && infraRunning(pod); i++) await sleep(10);
    if (infraRunning(pod)) {
      sendSignal(pod.infraPid, 9); // SIGKILL
      for (let i = 0; i < 1000 && infraRunning(pod); i++) await sleep(10);
    }
  }
  if (pod.infraPid !== 0 && ctx.db.pod(pod.id)) ctx.db.updatePod(pod.id, { infraPid: 0, infraStart: null });
  await detachContainer(ctx, pod.id); // CNI DEL (its iptables rules), then the netns
  fs.rmSync(podRunDir(ctx, pod.id), { recursive: true, force: true });
}
