// rm: a stopped container's record, writable layer, log and (with `volumes`) anonymous
// volumes. A running one needs `force`, which kills it first.
import * as fs from "node:fs";
import { conflict } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import type { HostConfig } from "../options.js";
import { removeVolume } from "../volumes.js";
import { lookup } from "./lookup.js";
import { refresh, releaseResources } from "./cleanup.js";

/** The network a container joins with `--network container:ID`, or undefined. */
function joins(c: ContainerRow): string | undefined {
  const network = (JSON.parse(c.config) as HostConfig).network;
  return network.startsWith("container:") ? network.slice("container:".length) : undefined;
}

/** The containers that join this one's network namespace (`--network container:ID`). */
export function dependents(ctx: EngineContext, id: string): ContainerRow[] {
  return ctx.db.containers().filter((c) => c.id !== id && joins(c) === id);
}

/** The IDs of the containers whose network namespace another one joins. */
export function joinedIds(ctx: EngineContext): Set<string> {
  const ids = new Set<string>();
  for (const c of ctx.db.containers()) {
    const id = joins(c);
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

export async function remove(ctx: EngineContext, ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<string> {
  const found = lookup(ctx, ref);
  const row = refresh(ctx, found) ?? found;
  // as Podman: a container whose network namespace others join goes after them, even with force
  const deps = dependents(ctx, row.id);
  if (deps.length) {
    throw conflict(`container ${row.name} has dependent containers which must be removed before it: ${deps.map((c) => c.name).join(", ")}`);
  }
  if (row.state === "running" || row.state === "paused") {
    if (!opts.force) {
      throw conflict(`You cannot remove a ${row.state} container ${row.id}. Stop the container before attempting removal or force remove`);
    }
  }
  await releaseResources(ctx, row.id); // kills what still runs, unmounts, removes runtime state
  try {
    ctx.images.snapshots.removeActive(row.id);
  } catch {
    // still mounted somewhere we cannot see, or gone: the record goes anyway
  }
  fs.rmSync(ctx.paths(row.id).dataDir, { recursive: true, force: true });
  ctx.db.deleteContainer(row.id);
  const h = JSON.parse(row.config) as HostConfig;
  for (const b of h.binds) {
    if (b.kind === "volume" && b.anonymous && opts.volumes) removeVolume(ctx, b.source, { force: true });
  }
  return row.id;
}
