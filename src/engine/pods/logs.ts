// pod logs: the logs of its containers (or of one of them), each entry naming its container.
import { notFound } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { logs, type LogEntry, type LogOptions } from "../containers/logs.js";
import { lookupPod, podContainers } from "./record.js";

export interface PodLogEntry extends LogEntry {
  container: string;
}

/** Each container's entries in turn, oldest container first; `container` picks one (name or ID). */
export async function* podLogs(ctx: EngineContext, ref: string, opts: LogOptions & { container?: string } = {}): AsyncGenerator<PodLogEntry> {
  const pod = lookupPod(ctx, ref);
  let containers = podContainers(ctx, pod.id);
  if (opts.container !== undefined) {
    containers = containers.filter((c) => c.name === opts.container || c.id.startsWith(opts.container!));
    if (containers.length === 0) throw notFound(`pod ${pod.name} has no container ${opts.container}`);
  }
  for (const c of containers) for await (const e of logs(ctx, c.id, opts)) yield { ...e, container: c.name };
}
