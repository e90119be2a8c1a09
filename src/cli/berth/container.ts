// `berth container …`: the container verbs again, plus prune and the monitor's cleanup.
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";
import * as inspectCmd from "./inspect.js";
import * as psCmd from "./ps.js";
import * as rmCmd from "./rm.js";

export function register(program: Command, env: CommandEnv): Command {
  const container = program.command("container").description("manage containers");
  psCmd.register(container, env, "ls");
  rmCmd.register(container, env);
  inspectCmd.register(container, env, "container");
  container
    .command("prune")
    .description("remove all stopped containers")
    .option("-f, --force", "do not ask (berth never asks here: kept for docker's scripts)")
    .action(async () => {
      const gone = await engine(env).prune();
      if (gone.length) env.cli.stdout.write(`Deleted Containers:\n${gone.map((g) => `${g}\n`).join("")}\n`);
    });
  // what each container's monitor runs when the program has exited (Podman's `container cleanup`)
  container
    .command("cleanup", { hidden: true })
    .argument("<id>")
    .action(async (id: string) => {
      await engine(env).cleanup(id);
    });
  return container;
}
