// pause: freeze every process of a running container (freezer cgroup).
import { failedPrecondition } from "../../errors.js";
import { Container, type RuntimeContext } from "../container.js";

export function pause(ctx: RuntimeContext, id: string): void {
  const c = Container.load(ctx, id);
  const status = c.status();
  if (status !== "running") throw failedPrecondition(`container "${id}" is not running (status: ${status})`);
  c.cgroup.freeze();
}
