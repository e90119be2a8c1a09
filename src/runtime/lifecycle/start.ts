// start: let the created container's init run the user's program (runtime.md "start").
import { closeSync, constants, openSync, readSync, unlinkSync } from "node:fs";
import { BerthError, failedPrecondition, invalidArgument } from "../../errors.js";
import { processAlive, sleep } from "../../sys/index.js";
import { Container, type RuntimeContext } from "../container.js";
import { runHooksWarn } from "../hooks.js";

export async function start(ctx: RuntimeContext, id: string): Promise<Container> {
  const c = Container.load(ctx, id);
  const status = c.status();
  if (status !== "created") throw failedPrecondition(`container "${id}" is not in created state (status: ${status})`);
  await startContainer(ctx, c);
  return c;
}

/** Releases the init, then runs the poststart hooks (their failures are warnings). */
export async function startContainer(ctx: RuntimeContext, c: Container): Promise<void> {
  if (!c.record.config.process) throw invalidArgument(`container "${c.id}" has no process to start: config.json: process is required by start`);
  await releaseInit(c);
  const hooks = c.record.config.hooks?.poststart;
  if (hooks?.length) await runHooksWarn("poststart", hooks, c.state(), (m) => ctx.warn?.(m));
}

/** Opens the exec fifo for reading: the init, blocked opening it for writing, sends one byte and execs. */
export async function releaseInit(c: Container): Promise<void> {
  const fifo = c.dir.fifo;
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(1);
    const released = (): boolean => {
      try {
        return readSync(fd, buf, 0, 1, null) === 1;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (released()) break;
      if (!processAlive(c.pid, c.record.initStartTime)) {
        // a short program may have been released, run and exited between the read and this check
        if (released()) break;
        throw new BerthError("FailedPrecondition", `container "${c.id}" init exited before it could start`);
      }
      if (Date.now() > deadline) throw new BerthError("Unavailable", `container "${c.id}" did not answer start`);
      await sleep(1);
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
}
