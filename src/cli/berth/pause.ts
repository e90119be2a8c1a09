// pause and unpause: freeze and thaw every process in containers.
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  for (const [name, what] of [["pause", "freeze"], ["unpause", "thaw"]] as const) {
    parent
      .command(name)
      .description(`${what} every process in containers`)
      .argument("<container...>", "names or IDs")
      .action((refs: string[]) => {
        for (const r of refs) {
          if (name === "pause") engine(env).pause(r);
          else engine(env).unpause(r);
          env.cli.stdout.write(`${r}\n`);
        }
      });
  }
}
