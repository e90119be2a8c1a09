// rmi: remove images (by name: that name; by ID: the image), as docker rmi reports it.
import type { Command } from "commander";
import { parseReference } from "../../image/index.js";
import { type CommandEnv, imageStore } from "./globals.js";

export function register(parent: Command, env: CommandEnv, name = "rmi"): void {
  const cmd = parent.command(name);
  if (name === "rm") cmd.alias("remove");
  cmd
    .description("remove images")
    .argument("<image...>", "names or IDs")
    .option("-f, --force", "remove even when containers use it, or when an ID has several names")
    .action((images: string[], opts: { force?: boolean }) => {
      const store = imageStore(env);
      let first: unknown;
      for (const i of images) {
        try {
          const r = store.remove(i, { force: opts.force });
          for (const u of r.untagged) env.cli.stdout.write(`Untagged: ${parseReference(u).familiar()}\n`);
          for (const d of r.deleted) env.cli.stdout.write(`Deleted: ${d}\n`);
        } catch (e) {
          // the others are still removed; the first error decides the exit status
          if (first === undefined) first = e;
          else env.cli.stderr.write(`berth: ${(e as Error).message}\n`);
        }
      }
      if (first !== undefined) throw first;
    });
}
