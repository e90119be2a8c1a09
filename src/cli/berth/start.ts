// start: run created or stopped containers (-a: show the output and wait, as run does).
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";
import { attachOutput } from "./run.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("start")
    .description("start one or more stopped containers")
    .argument("<container...>", "names or IDs")
    .option("-a, --attach", "show the output and exit with the container's status")
    .action(async (refs: string[], opts: { attach?: boolean }) => {
      const e = engine(env);
      for (const r of refs) {
        const c = await e.start(r);
        if (opts.attach) env.exitCode = await attachOutput(env, e, c.id);
        else env.cli.stdout.write(`${r}\n`);
      }
    });
}
