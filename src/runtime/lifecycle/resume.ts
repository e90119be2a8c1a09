// resume: thaw a paused container.
import { failedPrecondition } from "../../errors.js";
import { Container, type RuntimeContext } from "../container.js";

export function resume(ctx: RuntimeContext, id: string): void {
  const c = Container.load(ctx, id);
  const status = c.status();
  if (status !== "paused") throw failedPrecondition(`container "${id}" is not paused (status: ${status})`);
  c.cgroup.thaw();
}
