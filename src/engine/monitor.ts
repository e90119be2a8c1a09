// The per-container monitor as a Launcher: berth-runtime's `monitor` mode (native/monitor.c),
// started in its own session so it outlives the berth command that made the container. It
// keeps the container's output in the json-file log, writes the exit record, then becomes
// the exit command (`berth container cleanup ID`), as conmon does for Podman.
import { spawn } from "node:child_process";
import type { Duplex } from "node:stream";
import type { Launch, Launcher } from "../runtime/launcher.js";
import { executorPath } from "../runtime/executor.js";

export interface MonitorOptions {
  log: string;
  exitFile: string;
  maxSize: number;
  maxFiles: number;
  /** run in place of the monitor once the exit record is written */
  exitCommand: string[];
  /** the monitor's pid, once it runs */
  onMonitor?: (pid: number) => void;
}

export function monitorLauncher(m: MonitorOptions): Launcher {
  return {
    async launch(plan) {
      const args = ["monitor", m.log, m.exitFile, String(m.maxSize), String(m.maxFiles), ...m.exitCommand];
      const child = spawn(executorPath(), args, { stdio: ["ignore", "ignore", "ignore", "pipe"], detached: true, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
      if (child.pid) m.onMonitor?.(child.pid);
      const sync = child.stdio[3] as Duplex;
      sync.write(plan);
      child.unref(); // never the container's parent beyond this call: the monitor is
      return {
        sync,
        status: () => {
          const code = child.exitCode ?? child.signalCode;
          return code === null ? "" : ` (monitor status ${code})`;
        },
        release: () => child.unref(),
        kill: () => {
          child.kill("SIGKILL");
          sync.destroy();
        },
      } satisfies Launch;
    },
  };
}
