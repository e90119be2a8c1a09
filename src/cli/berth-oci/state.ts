// state: print the state document as JSON.
import type { Command } from "commander";
import { state } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("state")
    .description("output the state of a container")
    .argument("<container-id>")
    .action((id: string) => {
      env.cli.stdout.write(JSON.stringify(state(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id), null, "  ") + "\n");
    });
}
