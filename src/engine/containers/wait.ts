// wait: until the container has exited and its run is released; its exit code.
import { sleep } from "../../sys/index.js";
import type { EngineContext } from "../context.js";
import { refresh, released } from "./cleanup.js";
import { lookup } from "./lookup.js";

export async function wait(ctx: EngineContext, ref: string, opts: { signal?: AbortSignal } = {}): Promise<number> {
  const id = lookup(ctx, ref).id;
  for (let delay = 5; !opts.signal?.aborted; delay = Math.min(delay * 2, 100)) {
    const row = ctx.db.container(id);
    if (!row) return 0; // removed (--rm) once it was over
    const now = refresh(ctx, row);
    if (!now) return 0;
    if (now.state === "exited") {
      // as `stop`: back once the run is released (its netns, mount and run dir), not only over
      await released(ctx, id);
      return now.exitCode ?? 255;
    }
    if (now.state === "created" && now.exitCode !== null) return now.exitCode;
    await sleep(delay);
  }
  return 255;
}
