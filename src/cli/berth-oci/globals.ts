// Global flags shared by every berth-oci command (runc's names).
import path from "node:path";
import type { Command } from "commander";
import type { RuntimeContext } from "../../runtime/index.js";
import { DEFAULT_ROOT } from "../../runtime/index.js";
import type { CliContext } from "../context.js";
import { cgroupModeFromEnv } from "../../cgroups/index.js";

export interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat?: "text" | "json";
  debug?: boolean;
}

export interface CommandEnv {
  cli: CliContext;
  runtime(): RuntimeContext;
  /** set by a command that wants a specific exit status */
  exitCode: number;
}

export function runtimeContext(program: Command, cwd = process.cwd(), stderr?: NodeJS.WritableStream, env: Record<string, string | undefined> = process.env): RuntimeContext {
  const g = program.opts<GlobalOptions>();
  return {
    root: path.resolve(cwd, g.root ?? DEFAULT_ROOT),
    cgroupMode: cgroupModeFromEnv(env),
    warn: (m) => stderr?.write(`berth-oci: warning: ${m}\n`),
  };
}
