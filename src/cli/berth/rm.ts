// rm: remove containers (-f: running ones too; -v: their anonymous volumes).
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv, name = "rm"): void {
  parent
    .command(name)
    .description("remove containers")
    .argument("<container...>", "names or IDs")
    .option("-f, --force", "kill and remove running containers")
    .option("-v, --volumes", "remove the container's anonymous volumes too")
    .action(async (refs: string[], opts: { force?: boolean; volumes?: boolean }) => {
      let first: unknown;
      for (const r of refs) {
        try {
          await engine(env).remove(r, opts);
          env.cli.stdout.write(`${r}\n`);
        } catch (e) {
          if (first === undefined) first = e;
          else env.cli.stderr.write(`berth: ${(e as Error).message}\n`);
        }
      }
      if (first !== undefined) throw first;
    });
}
