// pod rm: its containers, its infra and its record. Running containers need `force`, which
// kills them first; without it nothing is removed.
import { conflict } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { remove } from "../containers/remove.js";
import { stopInfra } from "./infra.js";
import { lookupPod, podContainers } from "./record.js";

/** Returns the pod's ID. */
export async function podRemove(ctx: EngineContext, ref: string, opts: { force?: boolean } = {}): Promise<string> {
  const pod = lookupPod(ctx, ref);
  const containers = podContainers(ctx, pod.id);
  const live = containers.filter((c) => c.state === "running" || c.state === "paused");
  if (live.length && !opts.force) throw conflict(`pod ${pod.name} has running containers (${live.map((c) => c.name).join(", ")}): stop the pod first or remove it with -f`);
  for (const c of containers) await remove(ctx, c.id, { force: true, volumes: true });
  await stopInfra(ctx, pod.id);
  ctx.db.deletePod(pod.id);
  return pod.id;
}
