// pod stop: each of its containers (their stop signal, then SIGKILL after the timeout), then
// the infra: the pause process, the CNI attachment and the netns.
import type { EngineContext } from "../context.js";
import type { PodRow } from "../db.js";
import { stop } from "../containers/stop.js";
import { stopInfra } from "./infra.js";
import { lookupPod, podContainers } from "./record.js";

export async function podStop(ctx: EngineContext, ref: string, opts: { timeout?: number } = {}): Promise<PodRow> {
  const pod = lookupPod(ctx, ref);
  await Promise.all(podContainers(ctx, pod.id).map((c) => stop(ctx, c.id, opts)));
  await stopInfra(ctx, pod.id);
  return ctx.db.pod(pod.id) ?? pod;
}
