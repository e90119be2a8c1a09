// Global flags shared by every berth command (Podman's names: --root, --runroot, --storage-driver).
import path from "node:path";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { ImageStore, type SnapshotterKind } from "../../image/index.js";
import { defaultRoot, defaultRunroot, Engine } from "../../engine/index.js";
import type { CliContext } from "../context.js";

export interface GlobalOptions {
  root?: string;
  runroot?: string;
  storageDriver?: string;
  debug?: boolean;
}

export interface CommandEnv {
  cli: CliContext;
  program: Command;
  /** set by a command that wants a specific exit status */
  exitCode: number;
  /** the engine, opened on first use and closed when the command is done */
  engine?: Engine;
}

export function dataRoot(env: CommandEnv): string {
  const g = env.program.opts<GlobalOptions>();
  return path.resolve(env.cli.cwd, g.root ?? env.cli.env.BERTH_ROOT ?? defaultRoot(env.cli.env));
}

function storageDriver(env: CommandEnv): SnapshotterKind | undefined {
  const driver = env.program.opts<GlobalOptions>().storageDriver ?? env.cli.env.BERTH_STORAGE_DRIVER;
  if (driver !== undefined && driver !== "overlay" && driver !== "copy") {
    throw invalidArgument(`--storage-driver ${JSON.stringify(driver)}: expected overlay or copy`);
  }
  return driver as SnapshotterKind | undefined;
}

export function imageStore(env: CommandEnv): ImageStore {
  return env.engine?.images ?? new ImageStore(dataRoot(env), { snapshotter: storageDriver(env) });
}

export function engine(env: CommandEnv): Engine {
  const g = env.program.opts<GlobalOptions>();
  env.engine ??= new Engine({
    root: dataRoot(env),
    runroot: path.resolve(env.cli.cwd, g.runroot ?? env.cli.env.BERTH_RUNROOT ?? defaultRunroot(env.cli.env)),
    storageDriver: storageDriver(env),
    warn: (m) => env.cli.stderr.write(`berth: warning: ${m}\n`),
  });
  return env.engine;
}

/** A path the user typed, relative to their working directory. */
export function userPath(env: CommandEnv, p: string): string {
  return path.resolve(env.cli.cwd, p);
}
