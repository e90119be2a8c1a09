// delete: remove a container's resources once it has stopped.
import type { Command } from "commander";
import { remove } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("delete")
    .description("delete a container and everything it holds on the host")
    .argument("<container-id>")
    .option("-f, --force", "kill the container first if it is still running")
    .action(async (id: string, opts: { force?: boolean }) => {
      await remove(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id, opts.force);
    });
}
