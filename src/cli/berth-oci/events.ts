// events: resource usage as JSON lines; --stats prints once, otherwise every --interval.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { state, stats } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("events")
    .description("display container events and resource usage (JSON lines)")
    .argument("<container-id>")
    .option("--stats", "print the statistics once and exit")
    .option("--interval <duration>", "time between statistics (e.g. 5s, 500ms)", "5s")
    .action(async (id: string, opts: { stats?: boolean; interval: string }) => {
      const ctx = runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env);
      const out = env.cli.stdout;
      if (opts.stats) {
        out.write(JSON.stringify(stats(ctx, id)) + "\n");
        return;
      }
      const ms = durationMs(opts.interval);
      while (state(ctx, id).status !== "stopped") {
        out.write(JSON.stringify(stats(ctx, id)) + "\n");
        await new Promise((r) => setTimeout(r, ms));
      }
    });
}

function durationMs(d: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) throw invalidArgument(`--interval "${d}": expected a duration such as 5s or 500ms`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}
