// events: the container's resource usage, as runc's `events --stats` JSON.
import type { CgroupStats } from "../../cgroups/index.js";
import { failedPrecondition } from "../../errors.js";
import { Container, type RuntimeContext } from "../container.js";

export interface StatsEvent {
  type: "stats";
  id: string;
  data: {
    cpu: { usage: { total: number } };
    memory: { usage: { usage: number; limit: number; max?: number } };
    pids: { current: number; limit: number };
  };
}

export function stats(ctx: RuntimeContext, id: string): StatsEvent {
  const c = Container.load(ctx, id);
  if (c.status() === "stopped") throw failedPrecondition(`container "${id}" is not running`);
  const s: CgroupStats = c.cgroup.stats();
  return {
    type: "stats",
    id,
    data: {
      cpu: { usage: { total: s.cpu.usageNanos } },
      memory: { usage: { usage: s.memory.usage, limit: s.memory.limit, max: s.memory.maxUsage } },
      pids: { current: s.pids.current, limit: s.pids.limit },
    },
  };
}
