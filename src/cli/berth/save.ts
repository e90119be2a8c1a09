// save: images into a tar archive (docker-archive by default, or oci-archive), to a file or stdout.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { saveImages, type ArchiveFormat } from "../../image/index.js";
import { type CommandEnv, imageStore, userPath } from "./globals.js";

export function register(parent: Command, env: CommandEnv, name = "save"): void {
  parent
    .command(name)
    .description("save images to a tar archive")
    .argument("<image...>", "names or IDs")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .option("--format <format>", "docker-archive or oci-archive", "docker-archive")
    .action(async (images: string[], opts: { output?: string; format: string }) => {
      if (opts.format !== "docker-archive" && opts.format !== "oci-archive") {
        throw invalidArgument(`--format ${JSON.stringify(opts.format)}: expected docker-archive or oci-archive`);
      }
      const store = imageStore(env);
      for (const i of images) store.resolve(i); // every name checked before a byte is written
      if (!opts.output) {
        if ((env.cli.stdout as { isTTY?: boolean }).isTTY) throw invalidArgument("save: refusing to write an archive to a terminal: use -o FILE or redirect stdout");
        await saveImages(store, images, opts.format as ArchiveFormat, env.cli.stdout as Writable);
        return;
      }
      // a temporary name beside the target, renamed into place: a failed save leaves no half archive
      const target = userPath(env, opts.output);
      const tmp = `${target}.${randomBytes(4).toString("hex")}.tmp`;
      try {
        await saveImages(store, images, opts.format as ArchiveFormat, fs.createWriteStream(tmp));
        fs.renameSync(tmp, target);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw e;
      }
    });
}
