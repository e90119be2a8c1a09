// cleanup: what happens when a container's program has exited — run by its monitor as the
// exit command, and by any berth command that finds a container dead (a killed monitor, a
// reboot): the runtime state, cgroup and rootfs mount go, the record says exited, and a
// --rm container is removed. Every step may run twice, or in two processes at once.
import * as fs from "node:fs";
import { BerthError } from "../../errors.js";
import * as runtime from "../../runtime/index.js";
import { processAlive, sleep } from "../../sys/index.js";
import { CGROUP_PARENT, type EngineContext } from "../context.js";
import { removeIdleParent } from "../../cgroups/index.js";
import type { ContainerRow } from "../db.js";
import type { HostConfig } from "../options.js";
import { dependents, remove } from "./remove.js";
import { detachContainer } from "../networks.js";
import { unmount } from "./start.js";
import { stopSlirp } from "../slirp.js";

interface ExitRecord {
  exitCode: number;
  finishedAt: string;
}

function readExit(file: string): ExitRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as ExitRecord;
  } catch {
    return undefined;
  }
}

/** Whether the container's init still runs, as the runtime sees it. */
function running(ctx: EngineContext, id: string): boolean {
  try {
    const status = runtime.state(ctx.runtime, id).status;
    return status === "running" || status === "paused" || status === "created" || status === "creating";
  } catch {
    return false;
  }
}

/** Removes what a run left on the host: runtime state and cgroup, the rootfs mount, the run dir. */
export async function releaseResources(ctx: EngineContext, id: string): Promise<void> {
  const p = ctx.paths(id);
  await runtime.remove(ctx.runtime, id, true).catch(() => undefined);
  removeIdleParent(CGROUP_PARENT); // the last container's run leaves no /berth cgroup behind
  await detachContainer(ctx, id).catch((e: Error) => ctx.warn(`container ${id.slice(0, 12)}: network cleanup: ${e.message}`));
  stopSlirp(p.runDir);
  unmount(p.rootfs);
  fs.rmSync(p.runDir, { recursive: true, force: true });
}

/**
 * Waits (bounded) until an exited container's run is released (its netns, mount and run dir
 * gone): its monitor's cleanup does that after the record says exited; a monitor that is gone
 * leaves it to us. So `stop` returns with nothing of the run left on the host, as Docker's.
 */
export async function released(ctx: EngineContext, id: string): Promise<void> {
  const runDir = ctx.paths(id).runDir;
  for (let i = 0; i < 3000 && fs.existsSync(runDir); i++) {
    const row = ctx.db.container(id);
    if (!row || row.state === "running" || row.state === "paused" || row.state === "created") return;
    if (!monitorAlive(row) || row.monitorPid === process.pid) return releaseResources(ctx, id);
    await sleep(10);
  }
}

/** Whether the container's monitor is still at work (it writes the exit record, then cleans up). */
function monitorAlive(row: ContainerRow): boolean {
  return row.monitorPid > 0 && processAlive(row.monitorPid, row.monitorStart ?? undefined);
}

/** The record as it really is: a running container whose program is gone is cleaned up first. */
export function refresh(ctx: EngineContext, row: ContainerRow): ContainerRow | undefined {
  if (row.state === "exited" && !monitorAlive(row) && (JSON.parse(row.config) as HostConfig).autoRemove) {
    // a --rm container whose cleanup died half-way (its monitor's call to a warm service that
    // was killed): finish it, as its monitor would have
    void cleanupSoon(ctx, row.id).catch((e: Error) => ctx.warn(`container ${row.id.slice(0, 12)}: cleanup: ${e.message}`));
    return row;
  }
  if (row.state !== "running" && row.state !== "paused") return row;
  if (running(ctx, row.id)) return row;
  const exit = readExit(ctx.paths(row.id).exitFile);
  // the init is gone but its monitor is still copying the last output: not over yet
  if (!exit && monitorAlive(row)) return row;
  // no exit record and no monitor: the monitor was killed, or the host rebooted
  ctx.db.transition(row.id, ["running", "paused"], { state: "exited", exitCode: exit?.exitCode ?? 255, finishedAt: exit?.finishedAt ?? new Date().toISOString(), pid: 0 });
  void cleanupSoon(ctx, row.id).catch((e: Error) => ctx.warn(`container ${row.id.slice(0, 12)}: cleanup: ${e.message}`));
  return ctx.db.container(row.id);
}

const pending = new Map<string, Promise<void>>();

/** Starts the cleanup of an exited container without waiting (callers that must wait use cleanup). */
function cleanupSoon(ctx: EngineContext, id: string): Promise<void> {
  let p = pending.get(id);
  if (!p) {
    p = cleanup(ctx, id).finally(() => pending.delete(id));
    pending.set(id, p);
  }
  return p;
}

/** Waits for every cleanup this process started (the CLI does before it exits). */
export async function settle(): Promise<void> {
  while (pending.size) await Promise.all([...pending.values()]).catch(() => undefined);
}

export async function cleanup(ctx: EngineContext, id: string): Promise<void> {
  const row = ctx.db.container(id);
  if (!row) return;
  // a start still under way (a short program's monitor can be this quick): its starter sees the
  // exit record once the record says running, and cleans up then (start.ts)
  if (row.state === "created") return;
  if (running(ctx, id)) return; // not over: nothing to clean
  const exit = readExit(ctx.paths(id).exitFile);
  if (!exit && monitorAlive(row) && row.monitorPid !== process.pid) return; // the monitor will
  ctx.db.transition(id, ["running", "paused"], { state: "exited", exitCode: exit?.exitCode ?? 255, finishedAt: exit?.finishedAt ?? new Date().toISOString(), pid: 0 });
  await releaseResources(ctx, id);
  const h = JSON.parse(row.config) as HostConfig;
  // --rm: `run --rm` and the monitor both get here; whichever comes second finds it removed.
  // One whose network others still join stays (exited) until they are gone, as in Podman.
  if (h.autoRemove && !dependents(ctx, id).length) await remove(ctx, id, { force: true, volumes: true }).catch((e: unknown) => {
    if (!(e instanceof BerthError && e.kind === "NotFound")) throw e;
  });
}
