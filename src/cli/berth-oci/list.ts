// list: the containers under --root, as a table or JSON.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { list } from "../../runtime/index.js";
import { table } from "../render.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("list")
    .alias("ls")
    .description("list containers")
    .option("-f, --format <format>", "table or json", "table")
    .option("-q, --quiet", "print only the ids")
    .action((opts: { format: string; quiet?: boolean }) => {
      if (opts.format !== "table" && opts.format !== "json") {
        throw invalidArgument(`--format "${opts.format}": expected table or json`);
      }
      const all = list(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env));
      const out = env.cli.stdout;
      if (opts.quiet) {
        for (const c of all) out.write(c.id + "\n");
      } else if (opts.format === "json") {
        out.write(
          JSON.stringify(
            all.map((c) => ({ ociVersion: c.ociVersion, id: c.id, pid: c.pid ?? 0, status: c.status, bundle: c.bundle, rootfs: c.rootfs, created: c.created, annotations: c.annotations })),
          ) + "\n",
        );
      } else {
        out.write(table(["ID", "PID", "STATUS", "BUNDLE", "CREATED"], all.map((c) => [c.id, String(c.pid ?? 0), c.status, c.bundle, c.created ?? ""])));
      }
    });
}
