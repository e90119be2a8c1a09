// pod logs: the logs of its containers (or of one of them), each entry naming its container.
import { notFound } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { logs, type LogEntry, type LogOptions } from "../containers/logs.js";
import { lookupPod, podContainers } from "./record.js";

export interface PodLogEntry extends LogEntry {
  container: string;
}

/** The entries of several generators as each comes (each one's own order kept); the rest are told to return when one fails or the consumer stops. */
async function* merged<T>(sources: AsyncGenerator<T>[]): AsyncGenerator<T> {
  const next = (i: number) => sources[i].next().then((r) => ({ r, i }));
  const pending = new Map(sources.map((_, i) => [i, next(i)]));
  try {
    while (pending.size > 0) {
      const { r, i } = await Promise.race(pending.values());
      if (r.done) {
        pending.delete(i);
      } else {
        pending.set(i, next(i));
        yield r.value;
      }
    }
  } finally {
    // not awaited: a follower's pending read ends at its next poll once the caller's signal is aborted
    for (const i of pending.keys()) void sources[i].return(undefined).catch(() => undefined);
  }
}

async function* named(ctx: EngineContext, c: { id: string; name: string }, opts: LogOptions): AsyncGenerator<PodLogEntry> {
  for await (const e of logs(ctx, c.id, opts)) yield { ...e, container: c.name };
}

/**
 * Each container's entries in turn, oldest container first; `container` picks one (name or ID).
 * With `follow`, every container's log is followed at once, lines as they come, until all of
 * those containers have exited (or the signal is aborted), as `podman pod logs -f`.
 */
export async function* podLogs(ctx: EngineContext, ref: string, opts: LogOptions & { container?: string } = {}): AsyncGenerator<PodLogEntry> {
  const pod = lookupPod(ctx, ref);
  let containers = podContainers(ctx, pod.id);
  if (opts.container !== undefined) {
    containers = containers.filter((c) => c.name === opts.container || c.id.startsWith(opts.container!));
    if (containers.length === 0) throw notFound(`pod ${pod.name} has no container ${opts.container}`);
  }
  if (opts.follow) yield* merged(containers.map((c) => named(ctx, c, opts)));
  else for (const c of containers) yield* named(ctx, c, opts);
}
