// stats: containers' resource usage, as docker stats shows it. On a terminal it redraws every
// second until Ctrl-C; --no-stream prints one reading (CPU % over one second) and exits.
import { setTimeout as delay } from "node:timers/promises";
import type { Command } from "commander";
import type { ContainerStats, Engine } from "../../engine/index.js";
import { BerthError } from "../../errors.js";
import { formatRows, humanSize } from "../render.js";
import { onCallerSignal } from "../context.js";
import { type CommandEnv, engine } from "./globals.js";

interface StatsFlags {
  all?: boolean;
  stream: boolean;
  trunc: boolean;
  format?: string;
}

const HEADER = { ID: "CONTAINER ID", Name: "NAME", CPUPerc: "CPU %", MemUsage: "MEM USAGE / LIMIT", MemPerc: "MEM %", NetIO: "NET I/O", BlockIO: "BLOCK I/O", PIDs: "PIDS" };

/** Binary units with four significant digits ("1.5MiB", "7.63GiB"), as docker prints memory. */
export function binarySize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${Number(n.toPrecision(4))}${units[i]}`;
}

/** One row in docker's field names (keys in the order docker's `{{json .}}` prints them). */
export function statsRow(s: ContainerStats, container: string, trunc: boolean): Record<string, string> {
  return {
    BlockIO: `${humanSize(s.blockIO.readBytes)} / ${humanSize(s.blockIO.writeBytes)}`,
    CPUPerc: `${s.cpuPercent.toFixed(2)}%`,
    Container: container,
    ID: trunc ? s.id.slice(0, 12) : s.id,
    MemPerc: `${s.memory.percent.toFixed(2)}%`,
    MemUsage: `${binarySize(s.memory.usage)} / ${binarySize(s.memory.limit)}`,
    Name: s.name,
    NetIO: `${humanSize(s.network.rxBytes)} / ${humanSize(s.network.txBytes)}`,
    PIDs: String(s.pids),
  };
}

/** What to show: the containers named (each must exist), else the running ones (-a: all). */
function targets(e: Engine, refs: string[], all: boolean): { id: string; label: string }[] {
  if (refs.length) return refs.map((r) => ({ id: e.get(r).id, label: r }));
  return e.list({ all }).map((c) => ({ id: c.id, label: c.id.slice(0, 12) }));
}

const isGone = (err: unknown) => err instanceof BerthError && err.kind === "NotFound";

async function once(env: CommandEnv, e: Engine, refs: string[], f: StatsFlags): Promise<void> {
  const readings = await Promise.all(
    targets(e, refs, f.all ?? false).map(async (t) => {
      try {
        return statsRow(await e.stats(t.id), t.label, f.trunc);
      } catch (err) {
        if (refs.length === 0 && isGone(err)) return undefined; // removed since it was listed
        throw err;
      }
    }),
  );
  env.cli.stdout.write(formatRows(f.format, HEADER, readings.filter((r): r is Record<string, string> => r !== undefined)));
}

async function stream(env: CommandEnv, e: Engine, refs: string[], f: StatsFlags): Promise<void> {
  const stop = new AbortController();
  const latest = new Map<string, Record<string, string>>();
  const followed = new Map<string, Promise<void>>();
  let failure: unknown;
  const follow = (id: string, label: string) => {
    if (followed.has(id)) return;
    // until its first reading: docker's placeholders
    latest.set(id, { BlockIO: "--", CPUPerc: "--", Container: label, ID: f.trunc ? id.slice(0, 12) : id, MemPerc: "--", MemUsage: "-- / --", Name: "--", NetIO: "--", PIDs: "--" });
    const done = (async () => {
      try {
        for await (const s of e.statsStream(id, { signal: stop.signal })) {
          // in the running-only view, a container that stopped leaves the table
          if (!s.running && refs.length === 0 && !f.all) break;
          latest.set(id, statsRow(s, label, f.trunc));
        }
      } catch (err) {
        if (!isGone(err)) {
          failure ??= err;
          stop.abort();
        }
      } finally {
        latest.delete(id);
        followed.delete(id);
      }
    })();
    followed.set(id, done);
  };
  const tty = (env.cli.stdout as { isTTY?: boolean }).isTTY === true;
  const unsubscribe = onCallerSignal(env.cli, ["SIGINT", "SIGTERM"], () => stop.abort());
  try {
    for (const t of targets(e, refs, f.all ?? false)) follow(t.id, t.label);
    while (!stop.signal.aborted) {
      await delay(1000, undefined, { signal: stop.signal }).catch(() => undefined);
      if (stop.signal.aborted) break;
      if (refs.length === 0) for (const t of targets(e, [], f.all ?? false)) follow(t.id, t.label);
      else if (followed.size === 0) break; // every container named has been removed
      env.cli.stdout.write((tty ? "\x1b[2J\x1b[H" : "") + formatRows(f.format, HEADER, [...latest.values()]));
    }
  } finally {
    stop.abort();
    unsubscribe();
    await Promise.all(followed.values());
  }
  if (failure !== undefined) throw failure;
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("stats")
    .description("show containers' resource usage (running ones; -a all), redrawn every second")
    .argument("[container...]", "names or IDs")
    .option("-a, --all", "show all containers, not only running ones")
    .option("--no-stream", "print one reading and exit")
    .option("--no-trunc", "do not truncate IDs")
    .option("--format <format>", "table, json, or a template such as {{.Name}} {{.CPUPerc}}")
    .action(async (refs: string[], f: StatsFlags) => {
      const e = engine(env);
      if (f.stream) await stream(env, e, refs, f);
      else await once(env, e, refs, f);
    });
}
