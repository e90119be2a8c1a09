// logs: what a container wrote, from its json-file log.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { onCallerSignal } from "../context.js";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("logs")
    .description("show a container's output")
    .argument("<container>", "name or ID")
    .option("-f, --follow", "keep following until the container exits")
    .option("-n, --tail <n>", "only the last N lines (or all)", "all")
    .option("--since <time>", "only lines since a time (RFC 3339, Unix seconds, or 10m)")
    .option("--until <time>", "only lines before a time")
    .option("-t, --timestamps", "show each line's time")
    .action(async (ref: string, opts: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean }) => {
      if (opts.tail !== "all" && !/^\d+$/.test(opts.tail)) throw invalidArgument(`--tail ${JSON.stringify(opts.tail)}: expected a number or all`);
      const ac = new AbortController();
      const stop = () => ac.abort();
      const unsubscribe = onCallerSignal(env.cli, ["SIGINT"], stop);
      try {
        for await (const e of engine(env).logs(ref, { follow: opts.follow, tail: opts.tail === "all" ? undefined : Number(opts.tail), since: opts.since, until: opts.until, signal: ac.signal })) {
          (e.stream === "stderr" ? env.cli.stderr : env.cli.stdout).write(opts.timestamps ? `${e.time} ${e.log}` : e.log);
        }
      } finally {
        unsubscribe();
      }
    });
}
