// How a launch plan reaches the executor. Direct: spawn native/berth-runtime with the
// caller's stdio. Warm (src/warm): the C front-end that holds the caller's stdio runs it.
import { spawn } from "node:child_process";
import type { Duplex } from "node:stream";
import { executorPath } from "./executor.js";

export interface Launch {
  /** the sync channel of protocol.ts, plan already sent */
  sync: Duplex;
  /** with `stay`: the container's exit status (128+n for signal n) */
  exited?: Promise<number>;
  /** a short description of the executor's fate, for error messages */
  status(): string;
  /** the executor must not keep the caller alive */
  release(): void;
  kill(): void;
}

export interface Launcher {
  launch(plan: Buffer, opts: { stay: boolean; stdio: [number | "ignore", number | "ignore", number | "ignore"] }): Promise<Launch>;
}

export const spawnLauncher: Launcher = {
  async launch(plan, opts) {
    const child = spawn(executorPath(), ["exec"], { stdio: [...opts.stdio, "pipe"], env: {} });
    const sync = child.stdio[3] as Duplex;
    sync.write(plan);
    const exited = opts.stay
      ? new Promise<number>((resolve) => {
          if (child.exitCode !== null) return resolve(child.exitCode);
          child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 255)));
        })
      : undefined;
    return {
      sync,
      exited,
      status: () => {
        const code = child.exitCode ?? child.signalCode;
        return code === null ? "" : ` (executor status ${code})`;
      },
      release: () => child.unref(),
      kill: () => {
        child.kill("SIGKILL");
        sync.destroy();
      },
    };
  },
};
