// load: images from a docker-archive or oci-archive (a file or stdin), as docker load reports them.
import type { Command } from "commander";
import { loadImages, parseReference } from "../../image/index.js";
import { type CommandEnv, imageStore } from "./globals.js";
import { openInput } from "./import.js";

export function register(parent: Command, env: CommandEnv, name = "load"): void {
  parent
    .command(name)
    .description("load images from a tar archive (docker-archive or oci-archive, plain or gzip)")
    .option("-i, --input <file>", "read from this file instead of stdin")
    .option("-q, --quiet", "print nothing but errors")
    .action(async (opts: { input?: string; quiet?: boolean }) => {
      const loaded = await loadImages(imageStore(env), openInput(env, opts.input, "load"));
      if (opts.quiet) return;
      for (const l of loaded) {
        if (l.names.length === 0) env.cli.stdout.write(`Loaded image ID: ${l.image.id}\n`);
        for (const n of l.names) env.cli.stdout.write(`Loaded image: ${parseReference(n).familiar()}\n`);
      }
    });
}
