// kill: a signal to a running container's init (SIGKILL by default, as docker kill).
import { conflict } from "../../errors.js";
import * as runtime from "../../runtime/index.js";
import type { EngineContext } from "../context.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";

export function kill(ctx: EngineContext, ref: string, signal: string = "SIGKILL"): void {
  const row = refresh(ctx, lookup(ctx, ref));
  if (!row || row.state !== "running") throw conflict(`cannot kill container ${ref}: container ${row?.id ?? ref} is not running`);
  runtime.kill(ctx.runtime, row.id, signal);
}
