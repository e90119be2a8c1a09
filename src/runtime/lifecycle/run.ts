// run: create and start in one step; in the foreground the executor stays as the init's
// parent and its exit status is the container's.
import { sendSignal } from "../../sys/index.js";
import { Container, type RuntimeContext } from "../container.js";
import { create, type CreateOptions } from "./create.js";
import { remove } from "./delete.js";
import { startContainer } from "./start.js";

export interface Running {
  container: Container;
  /** resolves with the exit status (128+n for a signal) and removes the container */
  wait(): Promise<number>;
  /** sends a signal to the init */
  signal(sig: number): void;
}

export async function run(ctx: RuntimeContext, opts: CreateOptions & { detach?: boolean }): Promise<Running> {
  const { exited } = await create(ctx, { ...opts, stay: !opts.detach });
  const container = Container.load(ctx, opts.id);
  try {
    await startContainer(ctx, container);
  } catch (e) {
    await remove(ctx, opts.id, true);
    throw e;
  }
  return {
    container,
    signal: (sig) => {
      try {
        sendSignal(container.pid, sig);
      } catch {
        // exited meanwhile
      }
    },
    wait: async () => {
      if (!exited) throw new Error("a detached container has no foreground status");
      const code = await exited;
      await remove(ctx, opts.id, true);
      return code;
    },
  };
}
