// ps: the processes running inside a container.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { ps } from "../../runtime/index.js";
import { table } from "../render.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("ps")
    .description("display the processes running inside a container")
    .argument("<container-id>")
    .option("-f, --format <format>", "table or json", "table")
    .action((id: string, opts: { format: string }) => {
      if (opts.format !== "table" && opts.format !== "json") throw invalidArgument(`--format "${opts.format}": expected table or json`);
      const procs = ps(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id);
      if (opts.format === "json") env.cli.stdout.write(JSON.stringify(procs.map((p) => p.pid)) + "\n");
      else env.cli.stdout.write(table(["PID", "CMD"], procs.map((p) => [String(p.pid), p.command])));
    });
}
