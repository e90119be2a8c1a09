// diff: what changed in a container's file system: "A /path", "C /path", "D /path", like docker diff.
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("diff")
    .description("show the files added (A), changed (C) and deleted (D) in a container")
    .argument("<container>", "name or ID")
    .action(async (ref: string) => {
      const lines = (await engine(env).diff(ref)).map((c) => `${c.kind} ${c.path}\n`);
      env.cli.stdout.write(lines.join(""));
    });
}
