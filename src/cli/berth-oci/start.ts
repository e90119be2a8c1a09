// start: run the user's program in a created container.
import type { Command } from "commander";
import { start } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("start")
    .description("execute the user-defined process in a created container")
    .argument("<container-id>")
    .action(async (id: string) => {
      await start(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id);
    });
}
