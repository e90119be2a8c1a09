// ps: the containers with their state as it really is, and Docker's STATUS text.
import { humanDuration } from "../human.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import type { HostConfig } from "../options.js";
import { refresh } from "./cleanup.js";

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageId: string;
  command: string;
  created: string;
  state: ContainerRow["state"];
  /** "Up 3 seconds", "Exited (0) 2 minutes ago", "Created" */
  status: string;
  exitCode: number | null;
  pid: number;
  labels: Record<string, string>;
  /** the pod's ID, for a container in one (`--pod`) */
  pod?: string;
}

export function statusText(row: ContainerRow, now = Date.now()): string {
  const since = (t: string | null) => (t ? humanDuration(now - Date.parse(t)) : "");
  switch (row.state) {
    case "running":
      return `Up ${since(row.startedAt)}`;
    case "paused":
      return `Up ${since(row.startedAt)} (Paused)`;
    case "exited":
      return `Exited (${row.exitCode ?? 255}) ${since(row.finishedAt)} ago`;
    default:
      return "Created";
  }
}

export function summary(row: ContainerRow): ContainerSummary {
  const h = JSON.parse(row.config) as HostConfig;
  let args: string[] = [];
  try {
    // what it runs, as docker ps shows it
    args = [...(h.entrypoint ?? []), ...h.command];
  } catch {
    // config unreadable: no command shown
  }
  return {
    id: row.id,
    name: row.name,
    image: row.image,
    imageId: row.imageId,
    command: args.join(" "),
    created: row.created,
    state: row.state,
    status: statusText(row),
    exitCode: row.exitCode,
    pid: row.pid,
    labels: h.labels,
    ...(h.pod ? { pod: h.pod } : {}),
  };
}

export function list(ctx: EngineContext, opts: { all?: boolean } = {}): ContainerSummary[] {
  const out: ContainerSummary[] = [];
  for (const r of ctx.db.containers()) {
    const row = refresh(ctx, r);
    if (!row) continue;
    if (!opts.all && row.state !== "running" && row.state !== "paused") continue;
    out.push(summary(row));
  }
  return out;
}
