// Global flags shared by every berth command (Podman's names: --root, --storage-driver).
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { ImageStore, type SnapshotterKind } from "../../image/index.js";
import type { CliContext } from "../context.js";

export interface GlobalOptions {
  root?: string;
  storageDriver?: string;
  debug?: boolean;
}

export interface CommandEnv {
  cli: CliContext;
  program: Command;
  /** set by a command that wants a specific exit status */
  exitCode: number;
}

/** Where data lives: /var/lib/berth for root, $XDG_DATA_HOME/berth for anyone else. */
export function defaultRoot(env: Record<string, string | undefined>): string {
  if (process.getuid?.() === 0) return "/var/lib/berth";
  return path.join(env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), ".local/share"), "berth");
}

export function dataRoot(env: CommandEnv): string {
  const g = env.program.opts<GlobalOptions>();
  return path.resolve(env.cli.cwd, g.root ?? env.cli.env.BERTH_ROOT ?? defaultRoot(env.cli.env));
}

export function imageStore(env: CommandEnv): ImageStore {
  const g = env.program.opts<GlobalOptions>();
  const driver = g.storageDriver ?? env.cli.env.BERTH_STORAGE_DRIVER;
  if (driver !== undefined && driver !== "overlay" && driver !== "copy") {
    throw invalidArgument(`--storage-driver ${JSON.stringify(driver)}: expected overlay or copy`);
  }
  return new ImageStore(dataRoot(env), { snapshotter: driver as SnapshotterKind | undefined });
}

/** A path the user typed, relative to their working directory. */
export function userPath(env: CommandEnv, p: string): string {
  return path.resolve(env.cli.cwd, p);
}
