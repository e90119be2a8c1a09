// kill: send a signal to the container's init, or with `all` to every process in its cgroup.
import { failedPrecondition, invalidArgument } from "../../errors.js";
import { sendSignal, signalNumber } from "../../sys/index.js";
import { Container, type RuntimeContext } from "../container.js";

export function kill(ctx: RuntimeContext, id: string, signal: string | number = "SIGTERM", all = false): void {
  const sig = signalNumber(signal);
  if (sig === undefined) throw invalidArgument(`signal "${signal}": expected a signal name such as SIGTERM or KILL, or a number from 1 to 64`);
  const c = Container.load(ctx, id);
  const status = c.status();
  if (status === "stopped") {
    if (all) return; // nothing left to signal
    throw failedPrecondition(`container "${id}" is not running (status: stopped)`);
  }
  if (all) {
    c.cgroup.killAll(sig);
    return;
  }
  try {
    sendSignal(c.pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") throw failedPrecondition(`container "${id}" is not running`);
    throw e;
  }
}
