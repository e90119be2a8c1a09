// create: set the container up and leave it waiting for `start`.
import path from "node:path";
import type { Command } from "commander";
import { create } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export interface CreateFlags {
  bundle?: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: string;
}

export function addCreateFlags(cmd: Command): Command {
  return cmd
    .option("-b, --bundle <dir>", "path to the root of the bundle directory", ".")
    .option("--pid-file <file>", "file to write the container's init pid to")
    .option("--console-socket <path>", "unix socket that receives the pty master (process.terminal)")
    .option("--no-pivot", "accepted for runc compatibility; berth always pivots")
    .option("--no-new-keyring", "accepted for runc compatibility")
    .option("--preserve-fds <n>", "accepted for runc compatibility", "0");
}

export function bundleOptions(env: CommandEnv, id: string, opts: CreateFlags) {
  return {
    id,
    bundle: path.resolve(env.cli.cwd, opts.bundle ?? "."),
    pidFile: opts.pidFile ? path.resolve(env.cli.cwd, opts.pidFile) : undefined,
    launcher: env.cli.launcher,
    consoleSocket: opts.consoleSocket ? path.resolve(env.cli.cwd, opts.consoleSocket) : undefined,
  };
}

export function register(program: Command, env: CommandEnv): void {
  addCreateFlags(program.command("create").description("create a container").argument("<container-id>")).action(
    async (id: string, opts: CreateFlags) => {
      await create(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), bundleOptions(env, id, opts));
    },
  );
}
