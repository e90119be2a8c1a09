// stop, restart and kill.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { type CommandEnv, engine } from "./globals.js";

function timeout(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  if (!/^-?\d+$/.test(t)) throw invalidArgument(`--time ${JSON.stringify(t)}: expected whole seconds`);
  return Math.max(0, Number(t));
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("stop")
    .description("stop running containers: the stop signal, then SIGKILL after the timeout")
    .argument("<container...>", "names or IDs")
    .option("-t, --time <seconds>", "seconds to wait before SIGKILL (default 10)")
    .action(async (refs: string[], opts: { time?: string }) => {
      for (const r of refs) {
        await engine(env).stop(r, { timeout: timeout(opts.time) });
        env.cli.stdout.write(`${r}\n`);
      }
    });
  parent
    .command("restart")
    .description("stop, then start containers")
    .argument("<container...>", "names or IDs")
    .option("-t, --time <seconds>", "seconds to wait before SIGKILL (default 10)")
    .action(async (refs: string[], opts: { time?: string }) => {
      for (const r of refs) {
        await engine(env).restart(r, { timeout: timeout(opts.time) });
        env.cli.stdout.write(`${r}\n`);
      }
    });
  parent
    .command("kill")
    .description("send a signal to running containers (SIGKILL by default)")
    .argument("<container...>", "names or IDs")
    .option("-s, --signal <signal>", "the signal", "SIGKILL")
    .action((refs: string[], opts: { signal: string }) => {
      for (const r of refs) {
        engine(env).kill(r, opts.signal);
        env.cli.stdout.write(`${r}\n`);
      }
    });
}
