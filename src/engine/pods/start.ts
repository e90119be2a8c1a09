// pod start: the infra first (its netns, CNI attachment and pause process), then each of its
// containers that does not run, oldest first.
import type { EngineContext } from "../context.js";
import type { PodRow } from "../db.js";
import { start } from "../containers/start.js";
import { startInfra } from "./infra.js";
import { lookupPod, podContainers } from "./record.js";

export async function podStart(ctx: EngineContext, ref: string): Promise<PodRow> {
  const pod = await startInfra(ctx, lookupPod(ctx, ref).id);
  for (const c of podContainers(ctx, pod.id)) if (c.state !== "running" && c.state !== "paused") await start(ctx, c.id);
  return ctx.db.pod(pod.id) ?? pod;
}
