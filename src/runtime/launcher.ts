// How a launch plan reaches the executor. Direct: spawn native/berth-runtime with the
// caller's stdio. Warm (src/warm): the C front-end that holds the caller's stdio runs it.
import { spawn, type ChildProcess } from "node:child_process";
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

/**
 * The Launch of an executor spawned with the sync channel as its fd 3, the plan sent on it.
 * `until`: "exit" (the status) or "close" (the status and all the output of piped stdio).
 */
export function executorLaunch(child: ChildProcess, plan: Buffer, stay: boolean, until: "exit" | "close" = "exit"): Launch {
  const sync = child.stdio[3] as Duplex;
  sync.write(plan);
  const exited = stay
    ? new Promise<number>((resolve) => {
        if (until === "exit" && child.exitCode !== null) return resolve(child.exitCode);
        child.on(until, (code: number | null, signal: NodeJS.Signals | null) => resolve(code ?? (signal ? 128 : 255)));
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
}

export const spawnLauncher: Launcher = {
  async launch(plan, opts) {
    return executorLaunch(spawn(executorPath(), ["exec"], { stdio: [...opts.stdio, "pipe"], env: {} }), plan, opts.stay);
  },
};
