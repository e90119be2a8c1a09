// The per-container monitor as a Launcher: berth-runtime's `monitor` mode (native/monitor.c),
// started in its own session so it outlives the berth command that made the container. It
// keeps the container's output in the json-file log, writes the exit record, then becomes
// the exit command (`berth container cleanup ID`), as conmon does for Podman. It serves the
// attach socket (below) for as long as the container runs, holds a terminal's pty master and,
// with -i, the container's stdin pipe.
import { spawn } from "node:child_process";
import path from "node:path";
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
  /** the attach socket it serves (AttachMsg) */
  attachSocket: string;
  /** -i: the container's stdin is a pipe the monitor holds open for attached clients */
  openStdin: boolean;
  /** a FIFO of kmsg records (a system container's journal) logged as stdout */
  journal?: string;
  /** the monitor's pid, once it runs */
  onMonitor?: (pid: number) => void;
}

/** The attach socket the monitor serves, in the container's run dir. */
export function attachSocketPath(runDir: string): string {
  return path.join(runDir, "attach");
}

export function monitorLauncher(m: MonitorOptions): Launcher {
  return {
    async launch(plan) {
      const args = ["monitor", m.log, m.exitFile, String(m.maxSize), String(m.maxFiles), m.attachSocket, m.openStdin ? "1" : "0", ...m.exitCommand];
      const child = spawn(executorPath(), args, { stdio: ["ignore", "ignore", "ignore", "pipe"], detached: true, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...(m.journal ? { BERTH_MONITOR_JOURNAL: m.journal } : {}) } });
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

/*
 * The attach protocol: the TypeScript mirror of native/monitor.h. Keep the two identical.
 *
 *   client (berth attach / run -it)                      monitor
 *   connect(ATTACH) ------------------------------------> accept
 *   RESIZE(rows, cols) ----------------------------------> TIOCSWINSZ on the pty master
 *   STDIN(bytes)* ---------------------------------------> pty master, or the stdin pipe
 *   <--------------------------------------------------- STDOUT(bytes)* / STDERR(bytes)*
 *   CLOSE_STDIN -----------------------------------------> close the stdin pipe (a tty: VEOF, ^D)
 *   (detach: close) ... or, when the container is over:
 *   <--------------------------------------------------- EXIT(code, signal), close
 *
 * frame := u32:type u32:length payload (little-endian)
 */
export enum AttachMsg {
  STDIN = 1,
  CLOSE_STDIN = 2,
  /** u32 rows, u32 cols */
  RESIZE = 3,
  STDOUT = 16,
  STDERR = 17,
  /** i32 exit code, i32 signal */
  EXIT = 18,
}

export function attachFrame(type: AttachMsg, payload: Buffer = Buffer.alloc(0)): Buffer {
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(type, 0);
  hdr.writeUInt32LE(payload.length, 4);
  return Buffer.concat([hdr, payload]);
}
