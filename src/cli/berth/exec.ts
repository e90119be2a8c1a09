// exec: run a command in a running container; berth exits with its status.
import type { Command } from "commander";
import { terminalSize } from "./attach.js";
import { type CommandEnv, engine } from "./globals.js";

const many = (v: string, all: string[]) => [...all, v];

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("exec")
    .description("run a command in a running container")
    .argument("<container>", "name or ID")
    .argument("<command...>", "the command and its arguments")
    .option("-d, --detach", "run it in the background")
    .option("-e, --env <NAME=VALUE>", "an environment variable (repeatable)", many, [])
    .option("-u, --user <user>", "user[:group]")
    .option("-w, --workdir <dir>", "the working directory")
    .option("-i, --interactive", "give it berth's stdin")
    .option("-t, --tty", "a terminal (berth's own in raw mode, when it has one)")
    .passThroughOptions()
    .action(async (ref: string, command: string[], opts: { detach?: boolean; env: string[]; user?: string; workdir?: string; interactive?: boolean; tty?: boolean }) => {
      // with -t the executor holds the pty master and copies it to berth's stdio (berth-oci run -t)
      const tty = Boolean(opts.tty && !opts.detach);
      const r = await engine(env).exec(ref, {
        command,
        env: opts.env,
        user: opts.user,
        workdir: opts.workdir,
        detach: opts.detach,
        stdio: [opts.interactive ? 0 : "ignore", opts.detach ? "ignore" : 1, opts.detach ? "ignore" : 2],
        tty,
        consoleSize: tty ? terminalSize(env) : undefined,
      });
      if (r.exitCode !== undefined) env.exitCode = r.exitCode;
    });
}
