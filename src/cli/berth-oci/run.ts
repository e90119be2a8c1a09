// run: create + start; in the foreground wait and exit with the container's status.
import type { Command } from "commander";
import { run } from "../../runtime/index.js";
import { addCreateFlags, bundleOptions, type CreateFlags } from "./create.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"];

export function register(program: Command, env: CommandEnv): void {
  addCreateFlags(program.command("run").description("create and run a container").argument("<container-id>"))
    .option("-d, --detach", "detach from the container's process")
    .action(async (id: string, opts: CreateFlags & { detach?: boolean }) => {
      const running = await run(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), { ...bundleOptions(env, id, opts), detach: opts.detach });
      if (opts.detach) return;
      if (env.cli.launcher) {
        // warm: the front-end is the init's parent and forwards the caller's signals itself
        env.exitCode = await running.wait();
        return;
      }
      const { constants } = await import("node:os");
      const handlers = FORWARDED.map((s) => {
        const h = () => running.signal(constants.signals[s]);
        process.on(s, h);
        return [s, h] as const;
      });
      env.exitCode = await running.wait();
      for (const [s, h] of handlers) process.off(s, h);
    });
}
