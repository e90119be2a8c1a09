// wait: block until containers exit; print each exit code.
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("wait")
    .description("wait for containers to exit and print their exit codes")
    .argument("<container...>", "names or IDs")
    .action(async (refs: string[]) => {
      for (const r of refs) env.cli.stdout.write(`${await engine(env).wait(r)}\n`);
    });
}
