// export: a container's file system as a tar archive, to a file (-o, written under a temporary
// name and renamed, so a failure leaves no half archive) or stdout, like docker export.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { toStdout } from "./cp.js";
import { type CommandEnv, engine, userPath } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("export")
    .description("export a container's file system as a tar archive")
    .argument("<container>", "name or ID")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action(async (ref: string, opts: { output?: string }) => {
      if (!opts.output && (env.cli.stdout as { isTTY?: boolean }).isTTY) {
        throw invalidArgument("export: refusing to write a tar archive to a terminal: use -o FILE or redirect stdout");
      }
      const tar = engine(env).export(ref);
      if (!opts.output) {
        await toStdout(tar, env.cli.stdout as Writable);
        return;
      }
      const target = userPath(env, opts.output);
      const tmp = `${target}.${randomBytes(4).toString("hex")}.tmp`;
      try {
        await pipeline(tar, fs.createWriteStream(tmp));
        fs.renameSync(tmp, target);
      } catch (e) {
        tar.destroy();
        fs.rmSync(tmp, { force: true });
        throw e;
      }
    });
}
