// run: create and start a container; in the foreground its output is shown as it comes
// (from the log its monitor writes), signals are passed on, and berth exits with its status.
// With -i or -t, berth attaches to it instead (attach.ts): input, a terminal, detach keys.
import type { Command } from "commander";
import { type Engine, parseDetachKeys } from "../../engine/index.js";
import { onCallerSignal } from "../context.js";
import { attachSession, terminalSize } from "./attach.js";
import { addContainerFlags, containerOptions, type ContainerFlags } from "./container-options.js";
import { type CommandEnv, engine } from "./globals.js";
import { ensureImage } from "./pull.js";

interface RunFlags extends ContainerFlags {
  detach?: boolean;
  interactive?: boolean;
  tty?: boolean;
  detachKeys?: string;
}

/** Copies the container's output to ours until it has exited; returns its exit code. */
export async function attachOutput(env: CommandEnv, e: Engine, id: string): Promise<number> {
  const forward = (sig: NodeJS.Signals) => {
    try {
      e.kill(id, sig);
    } catch {
      // it has just exited
    }
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
  const unsubscribe = onCallerSignal(env.cli, signals, forward);
  try {
    for await (const entry of e.logs(id, { follow: true })) (entry.stream === "stderr" ? env.cli.stderr : env.cli.stdout).write(entry.log);
    return await e.wait(id);
  } finally {
    unsubscribe();
  }
}

export function register(program: Command, env: CommandEnv): void {
  const cmd = program
    .command("run")
    .description("create and start a container from an image")
    .helpOption("--help", "display help for command")
    .argument("<image>", "name or ID")
    .argument("[command...]", "the command and its arguments (default: the image's)")
    .option("-d, --detach", "run in the background and print the container's ID")
    .option("-i, --interactive", "keep stdin open: berth's input goes to the container")
    .option("-t, --tty", "give the container a terminal")
    .option("--detach-keys <keys>", "the keys that detach from -it (default ctrl-p,ctrl-q)")
    .passThroughOptions();
  addContainerFlags(cmd).action(async (image: string, command: string[], f: RunFlags) => {
    const e = engine(env);
    await ensureImage(env, image, f.pull, f.platform);
    const opts = { ...containerOptions(env, f, image, command), tty: f.tty ?? false, openStdin: f.interactive ?? false };
    if (!f.detach && (f.tty || f.interactive)) {
      parseDetachKeys(f.detachKeys ?? ""); // refused before anything is made
      // attached before the program runs; --rm stays with the container, so a detached one
      // is still removed when it exits
      const c = await e.create(opts);
      try {
        const a = await e.attach(c.id, { start: true, detachKeys: f.detachKeys, size: terminalSize(env) });
        const code = await attachSession(env, e, a, { stdin: f.interactive ?? false });
        if (code === undefined) return; // detached: it goes on
        env.exitCode = code;
        if (f.rm) await e.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
      } catch (err) {
        if (f.rm) await e.remove(c.id, { force: true, volumes: true }).catch(() => undefined);
        throw err;
      }
      return;
    }
    if (f.detach) {
      const c = await e.run(opts);
      env.cli.stdout.write(`${c.id}\n`);
      return;
    }
    // in the foreground, --rm is done here once the exit code is read
    const c = await e.create({ ...opts, autoRemove: false });
    try {
      await e.start(c.id);
      env.exitCode = await attachOutput(env, e, c.id);
    } finally {
      if (f.rm) await e.remove(c.id, { force: true, volumes: true });
    }
  });
}
