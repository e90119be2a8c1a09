// stats: a container's resource usage from its cgroup (either driver), its network namespace's
// counters and the host's CPU time, computed as Docker computes them: CPU % from two samples,
// memory without the page cache the kernel can drop, the limit capped at the host's memory.
import * as fs from "node:fs";
import os from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import * as runtime from "../../runtime/index.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import type { HostConfig } from "../options.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";

export interface ContainerStats {
  id: string;
  name: string;
  /** when the (second) sample was read */
  read: string;
  running: boolean;
  /** the container's CPU time over the host's in the interval, times the online CPUs (Docker's CPU %) */
  cpuPercent: number;
  cpu: { usageNanos: number; systemNanos: number; onlineCpus: number };
  /** usage without inactive page cache; limit: the cgroup's, or the host's memory when unlimited */
  memory: { usage: number; limit: number; percent: number };
  /** bytes through the container's own interfaces (loopback not counted) */
  network: { rxBytes: number; txBytes: number };
  blockIO: { readBytes: number; writeBytes: number };
  pids: number;
}

export interface StatsOptions {
  /** milliseconds between the two samples of a CPU reading, and between streamed records (default 1000) */
  interval?: number;
  /** ends a stream */
  signal?: AbortSignal;
}

interface Sample {
  row: ContainerRow;
  at: Date;
  running: boolean;
  cpuNanos: number;
  systemNanos: number;
  onlineCpus: number;
  memUsage: number;
  memLimit: number;
  rx: number;
  tx: number;
  readBytes: number;
  writeBytes: number;
  pids: number;
}

/** /proc/stat's first line: user..softirq of every CPU, in nanoseconds (USER_HZ is 100 on Linux), and the CPUs online. */
function hostCpu(): { systemNanos: number; onlineCpus: number } {
  const text = fs.readFileSync("/proc/stat", "utf8");
  const first = text.slice(0, text.indexOf("\n")).trim().split(/\s+/);
  const ticks = first.slice(1, 8).reduce((n, v) => n + Number(v), 0);
  const onlineCpus = text.split("\n").filter((l) => /^cpu\d+\s/.test(l)).length;
  return { systemNanos: (ticks * 1e9) / 100, onlineCpus };
}

/** rx and tx bytes of every interface but loopback in the network namespace of `pid`. */
function netBytes(pid: number): { rx: number; tx: number } {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/net/dev`, "utf8");
  } catch {
    return { rx: 0, tx: 0 };
  }
  let rx = 0;
  let tx = 0;
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() === "lo") continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

function sample(ctx: EngineContext, row: ContainerRow): Sample {
  const at = new Date();
  const { systemNanos, onlineCpus } = hostCpu();
  const zero: Sample = { row, at, running: false, cpuNanos: 0, systemNanos, onlineCpus, memUsage: 0, memLimit: 0, rx: 0, tx: 0, readBytes: 0, writeBytes: 0, pids: 0 };
  if (row.state !== "running" && row.state !== "paused") return zero;
  let s;
  try {
    s = runtime.Container.load(ctx.runtime, row.id).cgroup.stats();
  } catch {
    return zero; // gone between the lookup and now
  }
  const h = JSON.parse(row.config) as HostConfig;
  const net = h.network === "host" ? { rx: 0, tx: 0 } : netBytes(row.pid);
  const inactive = s.memory.inactiveFile ?? 0;
  const hostMemory = os.totalmem();
  return {
    row,
    at,
    running: true,
    cpuNanos: s.cpu.usageNanos,
    systemNanos,
    onlineCpus,
    memUsage: inactive < s.memory.usage ? s.memory.usage - inactive : s.memory.usage,
    memLimit: s.memory.limit <= 0 || s.memory.limit > hostMemory ? hostMemory : s.memory.limit,
    rx: net.rx,
    tx: net.tx,
    readBytes: s.io?.readBytes ?? 0,
    writeBytes: s.io?.writeBytes ?? 0,
    pids: s.pids.current,
  };
}

function record(prev: Sample | undefined, cur: Sample): ContainerStats {
  const cpuDelta = prev && prev.running ? cur.cpuNanos - prev.cpuNanos : 0;
  const systemDelta = prev ? cur.systemNanos - prev.systemNanos : 0;
  return {
    id: cur.row.id,
    name: cur.row.name,
    read: cur.at.toISOString(),
    running: cur.running,
    cpuPercent: cur.running && cpuDelta > 0 && systemDelta > 0 ? (cpuDelta / systemDelta) * cur.onlineCpus * 100 : 0,
    cpu: { usageNanos: cur.cpuNanos, systemNanos: cur.systemNanos, onlineCpus: cur.onlineCpus },
    memory: { usage: cur.memUsage, limit: cur.memLimit, percent: cur.memLimit > 0 ? (cur.memUsage / cur.memLimit) * 100 : 0 },
    network: { rxBytes: cur.rx, txBytes: cur.tx },
    blockIO: { readBytes: cur.readBytes, writeBytes: cur.writeBytes },
    pids: cur.pids,
  };
}

/** The row as it is now; undefined once the container has been removed. */
function current(ctx: EngineContext, id: string): ContainerRow | undefined {
  const row = ctx.db.container(id);
  return row && refresh(ctx, row);
}

/** One reading: two samples `interval` apart (one for a container that is not running). */
export async function stats(ctx: EngineContext, ref: string, opts: StatsOptions = {}): Promise<ContainerStats> {
  const found = lookup(ctx, ref);
  const row = refresh(ctx, found) ?? found;
  const first = sample(ctx, row);
  if (!first.running) return record(undefined, first);
  await delay(opts.interval ?? 1000, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined);
  return record(first, sample(ctx, current(ctx, row.id) ?? row));
}

/** A reading every `interval` until the signal aborts or the container is removed. */
export async function* statsStream(ctx: EngineContext, ref: string, opts: StatsOptions = {}): AsyncGenerator<ContainerStats> {
  const found = lookup(ctx, ref);
  let prev = sample(ctx, refresh(ctx, found) ?? found);
  const interval = opts.interval ?? 1000;
  while (!opts.signal?.aborted) {
    try {
      await delay(interval, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      return; // aborted
    }
    const row = current(ctx, prev.row.id);
    if (!row) return;
    const cur = sample(ctx, row);
    yield record(prev, cur);
    prev = cur;
  }
}
