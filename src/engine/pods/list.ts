// pod ps and pod inspect: the pods with their status as it really is.
import type { EngineContext } from "../context.js";
import { lookupPod, podSummary, type PodSummary } from "./record.js";

export function podList(ctx: EngineContext): PodSummary[] {
  return ctx.db.pods().map((p) => podSummary(ctx, p));
}

export function podInspect(ctx: EngineContext, ref: string): PodSummary {
  return podSummary(ctx, lookupPod(ctx, ref));
}
