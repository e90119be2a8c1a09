// stop: the stop signal (the image's StopSignal, --stop-signal, else SIGTERM), then after the
// timeout SIGKILL to every process in the container; returns once it is cleaned up.
import * as runtime from "../../runtime/index.js";
import { sleep } from "../../sys/index.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import type { HostConfig } from "../options.js";
import { cleanup, refresh, released } from "./cleanup.js";
import { lookup } from "./lookup.js";

async function exited(ctx: EngineContext, id: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (runtime.state(ctx.runtime, id).status === "stopped") return true;
    } catch {
      return true; // its state is gone: cleaned up already
    }
    if (Date.now() >= deadline) return false;
    await sleep(10);
  }
}

export async function stop(ctx: EngineContext, ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<ContainerRow | undefined> {
  const row = refresh(ctx, lookup(ctx, ref));
  if (!row || (row.state !== "running" && row.state !== "paused")) return row;
  const h = JSON.parse(row.config) as HostConfig;
  const image = (() => {
    try {
      return ctx.images.resolve(row.imageId).config.config;
    } catch {
      return undefined;
    }
  })();
  const signal = opts.signal ?? h.stopSignal ?? image?.StopSignal ?? "SIGTERM";
  const timeout = opts.timeout ?? h.stopTimeout ?? 10;
  if (row.state === "paused") {
    try {
      runtime.resume(ctx.runtime, row.id);
    } catch {
      // the kill below still ends it
    }
  }
  try {
    runtime.kill(ctx.runtime, row.id, signal);
  } catch {
    // already gone
  }
  if (!(await exited(ctx, row.id, timeout * 1000))) {
    try {
      runtime.kill(ctx.runtime, row.id, "SIGKILL", true);
    } catch {
      // gone meanwhile
    }
    await exited(ctx, row.id, 10_000);
  }
  // the monitor writes the exit record as the init goes; give it that moment
  for (let i = 0; i < 100 && ctx.db.container(row.id)?.state === "running"; i++) {
    await cleanup(ctx, row.id);
    if (ctx.db.container(row.id)?.state !== "running") break;
    await sleep(10);
  }
  await released(ctx, row.id);
  return ctx.db.container(row.id);
}
