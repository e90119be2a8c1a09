// create: a container that does not run yet (start runs it); prints its ID.
import type { Command } from "commander";
import { addContainerFlags, containerOptions, type ContainerFlags } from "./container-options.js";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  const cmd = parent
    .command("create")
    .description("create a container (start runs it)")
    .helpOption("--help", "display help for command")
    .argument("<image>", "name or ID")
    .argument("[command...]", "the command and its arguments (default: the image's)")
    .passThroughOptions();
  addContainerFlags(cmd).action(async (image: string, command: string[], f: ContainerFlags) => {
    const c = await engine(env).create(containerOptions(env, f, image, command));
    env.cli.stdout.write(`${c.id}\n`);
  });
}
