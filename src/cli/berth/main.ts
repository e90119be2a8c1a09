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
import { registerBuilderPrune, registerImagePrune, registerSystemPrune } from "./prune.js";
import * as rmiCmd from "./rmi.js";
import * as saveCmd from "./save.js";
import * as tagCmd from "./tag.js";
import * as containerCmd from "./container.js";
import * as createCmd from "./create.js";
import * as execCmd from "./exec.js";
import * as inspectAnyCmd from "./inspect.js";
import * as logsCmd from "./logs.js";
import * as pauseCmd from "./pause.js";
import * as psCmd from "./ps.js";
import * as rmCmd from "./rm.js";
import * as runCmd from "./run.js";
import * as startCmd from "./start.js";
import * as stopCmd from "./stop.js";
import * as volumeCmd from "./volume.js";
import * as networkCmd from "./network.js";
import * as waitCmd from "./wait.js";
import * as cpCmd from "./cp.js";
import * as diffCmd from "./diff.js";
import * as exportCmd from "./export.js";
import * as commitCmd from "./commit.js";
import * as attachCmd from "./attach.js";
import * as topCmd from "./top.js";
import * as statsCmd from "./stats.js";
import * as renameCmd from "./rename.js";
import * as portCmd from "./port.js";
import * as buildCmd from "./build.js";
import * as registryCmd from "./registry.js";
import * as pullCmd from "./pull.js";
import * as pushCmd from "./push.js";
import * as loginCmd from "./login.js";
import * as podCmd from "./pod.js";
import { CommandError } from "../../engine/index.js";
import { VERSION } from "./version.js";
import { runInUserNamespace } from "./rootless.js";

export { VERSION };

/** The container verbs, at the top level and again under `berth container`. */
function containerVerbs(parent: Command, env: CommandEnv): void {
  runCmd.register(parent, env);
  createCmd.register(parent, env);
  startCmd.register(parent, env);
  stopCmd.register(parent, env);
  execCmd.register(parent, env);
  logsCmd.register(parent, env);
  waitCmd.register(parent, env);
  pauseCmd.register(parent, env);
  cpCmd.register(parent, env);
  diffCmd.register(parent, env);
  exportCmd.register(parent, env);
  commitCmd.register(parent, env);
  attachCmd.register(parent, env);
  topCmd.register(parent, env);
  statsCmd.register(parent, env);
  renameCmd.register(parent, env);
  portCmd.register(parent, env);
}

export async function main(argv: string[], cli: CliContext = processContext()): Promise<number> {
  // an unprivileged user's berth runs in that user's namespace (README "Unprivileged berth")
  const inNamespace = await runInUserNamespace(argv, cli);
  if (inNamespace !== undefined) return inNamespace;
  const program = new Command("berth");
  const env: CommandEnv = { cli, program, exitCode: 0 };
  program
    .description("berth: containers for the Node world (see berth-oci for the OCI runtime)")
    .version(`berth version ${VERSION}`, "-v, --version")
    .option("--root <dir>", "where images and containers are kept (default /var/lib/berth; $BERTH_ROOT)")
    .option("--runroot <dir>", "where running containers' state is kept (default /run/berth; $BERTH_RUNROOT)")
    .option("--storage-driver <driver>", "overlay or copy (default: overlay where the kernel has it)")
    .option("--debug", "verbose errors")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => cli.stdout.write(s), writeErr: (s) => cli.stderr.write(s) });

  containerVerbs(program, env);
  psCmd.register(program, env);
  rmCmd.register(program, env);
  inspectAnyCmd.register(program, env);
  containerVerbs(containerCmd.register(program, env), env);
  volumeCmd.register(program, env);
  networkCmd.register(program, env);
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
  for (const p of [program, image]) buildCmd.register(p, env);
  const system = program.command("system").description("manage berth's data");
  registerSystemPrune(system, env);
  registerBuilderPrune(program, env);
  bootstrapCmd.register(program, env);
  infoCmd.register(program, env);
  registryCmd.register(program, env);
  pullCmd.register(program, env);
  pushCmd.register(program, env);
  pullCmd.register(image, env);
  pushCmd.register(image, env);
  loginCmd.register(program, env);
  podCmd.register(program, env);

  try {
    await program.parseAsync(argv, { from: "user" });
    return env.exitCode;
  } catch (e) {
    // Docker's conventions: 125 when berth itself fails (or cannot parse the command line),
    // 126 when the container's command cannot be run, 127 when it is not found
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 125;
    if (program.opts<GlobalOptions>().debug) process.env.BERTH_DEBUG = "1";
    reportError("berth", e, {}, cli.stderr);
    return e instanceof CommandError ? e.status : 125;
  } finally {
    await env.engine?.close();
  }
}
