// berth: the engine's command line, with Docker's verbs and flags. Images today; the container
// verbs arrive with the engine (issue 5).
import { Command, CommanderError } from "commander";
import { type CliContext, processContext, reportError } from "../context.js";
import type { CommandEnv, GlobalOptions } from "./globals.js";
import * as bootstrapCmd from "./bootstrap.js";
import * as historyCmd from "./history.js";
import * as imagesCmd from "./images.js";
import * as importCmd from "./import.js";
import * as infoCmd from "./info.js";
import * as inspectCmd from "./image-inspect.js";
import * as loadCmd from "./load.js";
import { registerImagePrune, registerSystemPrune } from "./prune.js";
import * as rmiCmd from "./rmi.js";
import * as saveCmd from "./save.js";
import * as tagCmd from "./tag.js";
import { VERSION } from "./version.js";

export { VERSION };

export async function main(argv: string[], cli: CliContext = processContext()): Promise<number> {
  const program = new Command("berth");
  const env: CommandEnv = { cli, program, exitCode: 0 };
  program
    .description("berth: containers for the Node world (see berth-oci for the OCI runtime)")
    .version(`berth version ${VERSION}`, "-v, --version")
    .option("--root <dir>", "where images and containers are kept (default /var/lib/berth; $BERTH_ROOT)")
    .option("--storage-driver <driver>", "overlay or copy (default: overlay where the kernel has it)")
    .option("--debug", "verbose errors")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => cli.stdout.write(s), writeErr: (s) => cli.stderr.write(s) });

  // Docker's top-level image verbs, and the same under `berth image`
  imagesCmd.register(program, env, "images");
  tagCmd.register(program, env);
  rmiCmd.register(program, env);
  historyCmd.register(program, env);
  importCmd.register(program, env);
  saveCmd.register(program, env);
  loadCmd.register(program, env);
  const image = program.command("image").description("manage images");
  imagesCmd.register(image, env, "ls");
  inspectCmd.register(image, env);
  tagCmd.register(image, env);
  rmiCmd.register(image, env, "rm");
  historyCmd.register(image, env);
  importCmd.register(image, env);
  saveCmd.register(image, env);
  loadCmd.register(image, env);
  registerImagePrune(image, env);
  const system = program.command("system").description("manage berth's data");
  registerSystemPrune(system, env);
  bootstrapCmd.register(program, env);
  infoCmd.register(program, env);

  try {
    await program.parseAsync(argv, { from: "user" });
    return env.exitCode;
  } catch (e) {
    // Docker's convention: 125 for a command line berth cannot parse
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 125;
    if (program.opts<GlobalOptions>().debug) process.env.BERTH_DEBUG = "1";
    return reportError("berth", e, {}, cli.stderr);
  }
}
