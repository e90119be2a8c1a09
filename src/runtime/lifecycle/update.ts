// update: change a live container's resources (memory, cpu, pids, blkio...).
import { failedPrecondition } from "../../errors.js";
import type { LinuxResources } from "../../oci/runtime-spec.js";
import { Container, type RuntimeContext } from "../container.js";

export function update(ctx: RuntimeContext, id: string, resources: LinuxResources): void {
  const c = Container.load(ctx, id);
  const status = c.status();
  if (status === "stopped") throw failedPrecondition(`container "${id}" is not running (status: stopped)`);
  c.cgroup.apply(resources);
  // remember them, so that the state on disk tells the truth
  const config = c.record.config;
  config.linux = { ...config.linux, resources: { ...config.linux?.resources, ...resources } };
  c.dir.write(c.record);
}
