// create: a container that does not run yet (start runs it); prints its ID.
import type { Command } from "commander";
import { addContainerFlags, containerOptions, type ContainerFlags } from "./container-options.js";
import { type CommandEnv, engine } from "./globals.js";
import { ensureImage } from "./pull.js";

export function register(parent: Command, env: CommandEnv): void {
  const cmd = parent
    .command("create")
    .description("create a container (start runs it)")
    .helpOption("--help", "display help for command")
    .argument("<image>", "name or ID")
    .argument("[command...]", "the command and its arguments (default: the image's)")
    .option("-i, --interactive", "keep stdin open for start -a -i and attach")
    .option("-t, --tty", "give the container a terminal")
    .passThroughOptions();
  addContainerFlags(cmd).action(async (image: string, command: string[], f: ContainerFlags & { interactive?: boolean; tty?: boolean }) => {
    await ensureImage(env, image, f.pull, f.platform);
    const c = await engine(env).create({ ...containerOptions(env, f, image, command), tty: f.tty ?? false, openStdin: f.interactive ?? false });
    env.cli.stdout.write(`${c.id}\n`);
  });
}
