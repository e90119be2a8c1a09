// What every command gets instead of touching `process` itself, and how errors leave the CLI.
import { appendFileSync } from "node:fs";
import { BerthError, type ErrorKind } from "../errors.js";
import type { Launcher } from "../runtime/launcher.js";

export interface CliContext {
  /** absent where there is none to read (the warm service) */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  /** the caller's environment (the warm service gets it with each request) */
  env: Record<string, string | undefined>;
  /** set by the warm service: the caller's front-end runs launch plans and forwards signals */
  launcher?: Launcher;
  /** the caller's signals, where they are not this process's (the warm service): see onCallerSignal */
  onSignal?(signals: NodeJS.Signals[], listener: (signal: NodeJS.Signals) => void): () => void;
}

export const processContext = (): CliContext => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env });

/**
 * Calls `listener` for each of `signals` the caller gets (its terminal's ^C, a kill) until the
 * returned function is called. A signal nobody listens to ends the command, as it ends Node.
 */
export function onCallerSignal(cli: CliContext, signals: NodeJS.Signals[], listener: (signal: NodeJS.Signals) => void): () => void {
  if (cli.onSignal) return cli.onSignal(signals, listener);
  for (const s of signals) process.on(s, listener);
  return () => {
    for (const s of signals) process.off(s, listener);
  };
}

export interface ErrorLog {
  file?: string;
  format?: "text" | "json";
}

/** Prints the error as one line (and to --log), returning the exit code for it. */
export function reportError(prog: string, e: unknown, log: ErrorLog, stderr: NodeJS.WritableStream, codes?: Partial<Record<ErrorKind, number>>): number {
  const err = e instanceof BerthError ? e : undefined;
  const message = err ? err.message : e instanceof Error ? e.message : String(e);
  stderr.write(`${prog}: ${message}\n`);
  // one line is the contract; the hint follows only when asked for (--debug)
  if (err?.hint && process.env.BERTH_DEBUG) stderr.write(`hint: ${err.hint}\n`);
  if (log.file) {
    try {
      const time = new Date().toISOString();
      appendFileSync(
        log.file,
        log.format === "json" ? JSON.stringify({ level: "error", msg: message, time }) + "\n" : `time="${time}" level=error msg="${message.replace(/"/g, '\\"')}"\n`,
      );
    } catch {
      // the log is a courtesy; the message is already on stderr
    }
  }
  if (!err && process.env.BERTH_DEBUG && e instanceof Error) stderr.write((e.stack ?? "") + "\n");
  return (err && codes?.[err.kind]) ?? 1;
}
