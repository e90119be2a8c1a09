// commit: a new image from a container's changes, like docker commit; prints its ID.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("commit")
    .description("create a new image from a container's changes")
    .argument("<container>", "name or ID")
    .argument("[repository]", "REPOSITORY[:TAG] to name it")
    .option("-a, --author <author>", 'the author (e.g. "Jane Doe <jane@example.com>")')
    .option("-m, --message <message>", "the commit message")
    .option("-c, --change <instruction>", "a Dockerfile instruction for the config (CMD, ENV, …); repeatable", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("-p, --pause [bool]", "pause the container while committing (default true; --pause=false does not)", true)
    .action(async (ref: string, repository: string | undefined, opts: { author?: string; message?: string; change: string[]; pause: boolean | string }) => {
      const pause = opts.pause === true || opts.pause === "true" || opts.pause === "1";
      if (!pause && opts.pause !== "false" && opts.pause !== "0") throw invalidArgument(`--pause ${JSON.stringify(opts.pause)}: expected true or false`);
      const image = await engine(env).commit(ref, { ref: repository, author: opts.author, message: opts.message, changes: opts.change, pause });
      env.cli.stdout.write(`${image.id}\n`);
    });
}
