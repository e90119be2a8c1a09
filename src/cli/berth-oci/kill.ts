// kill: send a signal (default SIGTERM) to the container's init, or to all its processes.
import type { Command } from "commander";
import { kill } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("kill")
    .description("send a signal to a container's init process")
    .argument("<container-id>")
    .argument("[signal]", "signal name or number", "SIGTERM")
    .option("-a, --all", "send the signal to all processes in the container")
    .action((id: string, signal: string, opts: { all?: boolean }) => {
      kill(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id, signal, opts.all);
    });
}
