// delete: remove a stopped container's cgroup and state (runtime.md "delete").
// Any other container needs `force` (runc deletes a created one anyway; the spec says no).
import { failedPrecondition } from "../../errors.js";
import { processAlive, sendSignal, sleep } from "../../sys/index.js";
import { Container, type RuntimeContext } from "../container.js";
import { runHooksWarn } from "../hooks.js";
import { StateDir } from "../state.js";

export async function remove(ctx: RuntimeContext, id: string, force = false): Promise<void> {
  const dir = new StateDir(ctx.root, id);
  const record = dir.exists() ? dir.readRecord() : undefined;
  if (!record) {
    if (dir.exists()) {
      // a create that crashed: nothing but the directory is ours to clean
      if (force) return dir.remove();
      throw failedPrecondition(`container "${id}" is still being created`, "use --force to remove it");
    }
    if (force) return;
    dir.load(); // throws NotFound
    return;
  }
  const c = Container.load(ctx, id);
  const status = c.status();
  // runtime.md: deleting a container that is not stopped MUST fail and change nothing
  if (status !== "stopped" && !force) {
    throw failedPrecondition(`container "${id}" is ${status}; stop it first or use --force`);
  }
  if (status !== "stopped") {
    if (status === "paused") {
      try {
        c.cgroup.thaw();
      } catch {
        // killing a frozen task still works on v2 and queues on v1; thaw is best effort
      }
    }
    try {
      sendSignal(c.pid, 9);
    } catch {
      // gone already
    }
  }
  try {
    c.cgroup.killAll(9);
  } catch {
    // no cgroup left
  }
  const deadline = Date.now() + 10_000;
  while (processAlive(c.pid, c.record.initStartTime) && Date.now() < deadline) await sleep(2);
  c.cgroup.destroy();
  const hooks = c.record.config.hooks?.poststop;
  if (hooks?.length) {
    await runHooksWarn("poststop", hooks, { ...c.state(), status: "stopped" }, (m) => ctx.warn?.(m));
  }
  dir.remove();
}
