// berth: the engine's command line. Docker's verbs arrive with the engine (issue 5);
// today it reports what this host offers berth.
import { Command, CommanderError } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { detectCgroupMode } from "../../cgroups/index.js";
import { executorPath } from "../../runtime/executor.js";
import { type CliContext, processContext, reportError } from "../context.js";

export const VERSION = "0.1.0";

export async function main(argv: string[], cli: CliContext = processContext()): Promise<number> {
  const program = new Command("berth");
  program
    .description("berth: containers for the Node world (engine verbs are being built; see berth-oci for the OCI runtime)")
    .version(`berth version ${VERSION}`, "-v, --version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => cli.stdout.write(s), writeErr: (s) => cli.stderr.write(s) });
  program
    .command("info")
    .description("show what this host offers berth")
    .option("--format <format>", "text or json", "text")
    .action((opts: { format: string }) => {
      const info = {
        version: VERSION,
        node: process.version,
        cgroupMode: detectCgroupMode(),
        executor: executorPath(),
        overlay: /\boverlay\n/.test(readFileSync("/proc/filesystems", "utf8")),
        userNamespaces: existsSync("/proc/self/ns/user"),
      };
      if (opts.format === "json") cli.stdout.write(JSON.stringify(info, null, 2) + "\n");
      else for (const [k, v] of Object.entries(info)) cli.stdout.write(`${k}: ${v}\n`);
    });
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 125;
    // Docker's convention: 125 when berth itself fails
    reportError("berth", e, {}, cli.stderr);
    return 125;
  }
}
