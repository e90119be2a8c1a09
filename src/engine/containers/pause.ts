// pause and unpause: freeze and thaw every process of a running container (the freezer cgroup).
import { conflict } from "../../errors.js";
import * as runtime from "../../runtime/index.js";
import type { EngineContext } from "../context.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";

export function pause(ctx: EngineContext, ref: string): void {
  const row = refresh(ctx, lookup(ctx, ref));
  if (!row || row.state !== "running") throw conflict(`container ${row?.id ?? ref} is not running`);
  runtime.pause(ctx.runtime, row.id);
  ctx.db.transition(row.id, ["running"], { state: "paused" });
}

export function unpause(ctx: EngineContext, ref: string): void {
  const row = refresh(ctx, lookup(ctx, ref));
  if (!row || row.state !== "paused") throw conflict(`container ${row?.id ?? ref} is not paused`);
  runtime.resume(ctx.runtime, row.id);
  ctx.db.transition(row.id, ["paused"], { state: "running" });
}
