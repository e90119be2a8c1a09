// rename: give a container a new name.
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("rename")
    .description("rename a container")
    .argument("<container>", "its name or ID")
    .argument("<new-name>", "the new name")
    .action((ref: string, name: string) => {
      engine(env).rename(ref, name);
    });
}
