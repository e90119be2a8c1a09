// berth-oci: an OCI runtime with runc's command line.
import path from "node:path";
import { Command, CommanderError } from "commander";
import { type CliContext, processContext, reportError } from "../context.js";
import type { CommandEnv, GlobalOptions } from "./globals.js";
import * as createCmd from "./create.js";
import * as deleteCmd from "./delete.js";
import * as killCmd from "./kill.js";
import * as listCmd from "./list.js";
import * as runCmd from "./run.js";
import * as specCmd from "./spec.js";
import * as startCmd from "./start.js";
import * as stateCmd from "./state.js";
import * as pauseCmd from "./pause.js";
import * as psCmd from "./ps.js";
import * as featuresCmd from "./features.js";
import * as updateCmd from "./update.js";
import * as eventsCmd from "./events.js";
import * as execCmd from "./exec.js";
import { VERSION } from "./version.js";

export { VERSION };

export async function main(argv: string[], cli: CliContext = processContext()): Promise<number> {
  const program = new Command("berth-oci");
  const env: CommandEnv = { cli, runtime: () => ({ root: "" }), exitCode: 0 };
  program
    .description("berth's OCI runtime (runc-compatible command line)")
    .version(`berth-oci version ${VERSION}\nspec: 1.2.0`, "-v, --version")
    .option("--root <dir>", "root directory for container state", "/run/berth-oci")
    .option("--log <file>", "log file for errors (as runc: engines read it)")
    .option("--log-format <format>", "text or json", "text")
    .option("--debug", "verbose errors")
    .option("--systemd-cgroup", "accepted for runc compatibility (cgroupfs is used)")
    .option("--rootless <value>", "accepted for runc compatibility", "auto")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ writeOut: (s) => cli.stdout.write(s), writeErr: (s) => cli.stderr.write(s) });
  for (const m of [specCmd, createCmd, startCmd, runCmd, stateCmd, killCmd, deleteCmd, listCmd, execCmd, pauseCmd, psCmd, updateCmd, eventsCmd, featuresCmd]) m.register(program, env);
  try {
    await program.parseAsync(argv, { from: "user" });
    return env.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 1;
    }
    const g = program.opts<GlobalOptions>();
    if (g.debug) process.env.BERTH_DEBUG = "1";

    const log = g.log ? path.resolve(cli.cwd, g.log) : undefined;
    return reportError("berth-oci", e, { file: log, format: g.logFormat }, cli.stderr);
  }
}
