// import: a root filesystem tarball (a file or stdin) becomes a one-layer image, like docker import.
import * as fs from "node:fs";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { invalidArgument, notFound } from "../../errors.js";
import { importTarball, parseChanges } from "../../image/index.js";
import { type CommandEnv, imageStore, userPath } from "./globals.js";

/** The input a load/import names: a file, or "-" (and nothing, for load) for stdin. */
export function openInput(env: CommandEnv, file: string | undefined, what: string): Readable {
  if (file === undefined || file === "-") {
    const stdin = env.cli.stdin;
    if (!stdin || (stdin as { isTTY?: boolean }).isTTY) throw invalidArgument(`${what}: no input: name a file, or send the archive on stdin`);
    return stdin instanceof Readable ? stdin : Readable.from(stdin);
  }
  const p = userPath(env, file);
  try {
    if (!fs.statSync(p).isFile()) throw invalidArgument(`${what}: ${file}: not a regular file`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw notFound(`${what}: ${file}: no such file`);
    throw e;
  }
  return fs.createReadStream(p);
}

export function register(parent: Command, env: CommandEnv, name = "import"): void {
  parent
    .command(name)
    .description("create an image from a root filesystem tarball (plain or gzip)")
    .argument("<file>", "the tarball, or - for stdin")
    .argument("[reference]", "REPOSITORY[:TAG] to name it")
    .option("-m, --message <message>", "the history comment")
    .option("-c, --change <instruction>", "a Dockerfile instruction for the config (CMD, ENV, …); repeatable", (v: string, all: string[]) => [...all, v], [] as string[])
    .action(async (file: string, reference: string | undefined, opts: { message?: string; change: string[] }) => {
      const config = parseChanges(opts.change); // bad input fails before anything is read
      const store = imageStore(env);
      const image = await importTarball(store, openInput(env, file, "import"), { ref: reference, message: opts.message, config, createdBy: "berth import" });
      env.cli.stdout.write(`${image.id}\n`);
    });
}
