// start: run created or stopped containers (-a: show the output and wait, as run does;
// -i or a container with a terminal: attached through its monitor, as run -i/-t is).
import type { Command } from "commander";
import { attachSession, terminalSize } from "./attach.js";
import { type CommandEnv, engine } from "./globals.js";
import { attachOutput } from "./run.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("start")
    .description("start one or more stopped containers")
    .argument("<container...>", "names or IDs")
    .option("-a, --attach", "show the output and exit with the container's status")
    .option("-i, --interactive", "attach, with berth's input going to the container")
    .option("--detach-keys <keys>", "the keys that detach (default ctrl-p,ctrl-q)")
    .action(async (refs: string[], opts: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
      const e = engine(env);
      for (const r of refs) {
        const made = e.inspect(r) as { Config?: { Tty?: boolean; OpenStdin?: boolean } };
        // -i attaches too, as Docker's start -i does
        if ((opts.attach || opts.interactive) && (opts.interactive || made.Config?.Tty)) {
          const a = await e.attach(r, { start: true, detachKeys: opts.detachKeys, size: terminalSize(env) });
          const code = await attachSession(env, e, a, { stdin: opts.interactive ?? false });
          if (code !== undefined) env.exitCode = code;
          continue;
        }
        const c = await e.start(r);
        if (opts.attach) env.exitCode = await attachOutput(env, e, c.id);
        else env.cli.stdout.write(`${r}\n`);
      }
    });
}
