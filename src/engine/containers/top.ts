// top: a running container's processes, as the host's `ps` shows them (host pids, taken from
// the container's cgroup), with `ps -ef` by default or the ps options given, as docker top does.
import { spawnSync } from "node:child_process";
import { conflict, internal, invalidArgument, unavailable } from "../../errors.js";
import * as runtime from "../../runtime/index.js";
import type { EngineContext } from "../context.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";

export interface ContainerTop {
  /** ps's column titles: UID PID PPID C STIME TTY TIME CMD by default */
  titles: string[];
  /** one row per process, a cell per title; the last cell is the rest of the line */
  processes: string[][];
}

/** Docker refuses options that rename a column to PID ("-o user=PID"): the PID column must be the pids. */
function checkPsArgs(args: string[]): void {
  for (const m of ` ${args.join(" ")}`.matchAll(/\s+(\S*)=\s*(PID\S*)/g)) {
    if (m[1] !== "pid") throw invalidArgument(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

function runPs(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync("ps", args, { encoding: "utf8", env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" }, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw unavailable(`top: cannot run ps: ${r.error.message}`, "install procps");
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

/** ps output -> the rows whose PID is one of `pids` (thread lines with PID "-" follow their process). */
export function parsePs(output: string, pids: Set<number>): ContainerTop {
  const lines = output.split("\n");
  const titles = (lines[0] ?? "").trim().split(/\s+/).filter(Boolean);
  const pidIndex = titles.indexOf("PID");
  if (pidIndex < 0) throw invalidArgument("top: couldn't find the PID field in ps output (ps options must keep the pid column)");
  const processes: string[][] = [];
  let inside = false;
  const row = (fields: string[]) => [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(" ")];
  for (const line of lines.slice(1)) {
    if (line.trim() === "") continue;
    const fields = line.trim().split(/\s+/);
    const cell = fields[pidIndex] ?? "";
    if (cell === "-") {
      if (inside) processes.push(row(fields));
      continue;
    }
    const pid = Number(cell);
    if (!Number.isInteger(pid)) throw internal(`top: unexpected pid ${JSON.stringify(cell)} in ps output`);
    inside = pids.has(pid);
    if (inside) processes.push(row(fields));
  }
  return { titles, processes };
}

export function top(ctx: EngineContext, ref: string, psArgs: string[] = []): ContainerTop {
  const found = lookup(ctx, ref);
  const row = refresh(ctx, found) ?? found;
  if (row.state !== "running" && row.state !== "paused") throw conflict(`container ${row.id} is not running`);
  const args = psArgs.length ? psArgs : ["-ef"];
  checkPsArgs(args);
  let pids: number[];
  try {
    pids = runtime.ps(ctx.runtime, row.id).map((p) => p.pid);
  } catch {
    throw conflict(`container ${row.id} is not running`);
  }
  // ps selects the pids itself (-q) where the options allow it; some (such as f) do not
  let r = pids.length ? runPs([...args, "-q", pids.join(",")]) : undefined;
  if (!r?.ok) r = runPs(args);
  if (!r.ok) {
    const why = r.stderr.split("\n").find((l) => l.trim() && !/^\s*(usage|for more details)/i.test(l))?.trim() ?? "it failed";
    throw invalidArgument(`top: ps ${args.join(" ")}: ${why.replace(/^error:\s*/i, "")}`);
  }
  return parsePs(r.stdout, new Set(pids));
}
