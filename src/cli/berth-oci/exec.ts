// exec: run a new process inside a running container, as runc exec does.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { validateProcess } from "../../oci/index.js";
import type { Process } from "../../oci/runtime-spec.js";
import { Container, exec } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

interface ExecFlags {
  process?: string;
  tty?: boolean;
  consoleSocket?: string;
  detach?: boolean;
  pidFile?: string;
  env: string[];
  cwd?: string;
  user?: string;
  additionalGids: string[];
  cap: string[];
  /** commander turns --no-new-privs into newPrivs: false */
  newPrivs?: boolean;
  preserveFds?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command, env: CommandEnv): void {
  program
    .command("exec")
    .description("execute a new process inside a container")
    .argument("<container-id>")
    .argument("[command...]", "the program and its arguments (or --process)")
    .option("-p, --process <file>", "a process.json (the runtime-spec process object)")
    .option("-t, --tty", "allocate a pseudo-terminal")
    .option("--console-socket <path>", "unix socket that receives the pty master")
    .option("-d, --detach", "do not wait for the process")
    .option("--pid-file <file>", "file to write the process's pid to")
    .option("-e, --env <KEY=VALUE>", "set an environment variable (repeatable)", collect, [])
    .option("--cwd <dir>", "working directory inside the container")
    .option("-u, --user <uid[:gid]>", "user to run as")
    .option("-g, --additional-gids <gid>", "additional group (repeatable)", collect, [])
    .option("-c, --cap <CAP>", "add a capability (repeatable)", collect, [])
    .option("--no-new-privs", "set no_new_privs")
    .option("--preserve-fds <n>", "accepted for runc compatibility", "0")
    .passThroughOptions()
    .action(async (id: string, command: string[], opts: ExecFlags) => {
      const ctx = runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env);
      const proc = processFor(Container.load(ctx, id).record.config.process, command, opts, env.cli.cwd);
      const done = await exec(ctx, id, {
        process: proc,
        detach: opts.detach,
        pidFile: opts.pidFile ? path.resolve(env.cli.cwd, opts.pidFile) : undefined,
        consoleSocket: opts.consoleSocket ? path.resolve(env.cli.cwd, opts.consoleSocket) : undefined,
        launcher: env.cli.launcher,
      });
      if (done.exited) env.exitCode = await done.exited;
    });
}

/** The container's own process settings, changed by the flags (runc's rules). */
function processFor(base: Process | undefined, command: string[], f: ExecFlags, cwd: string): Process {
  let proc: Process;
  if (f.process) {
    let text: string;
    try {
      text = readFileSync(path.resolve(cwd, f.process), "utf8");
    } catch (e) {
      throw invalidArgument(`--process ${f.process}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw invalidArgument(`${f.process}: invalid JSON: ${(e as Error).message}`);
    }
    proc = validateProcess(doc, path.basename(f.process));
  } else {
    if (command.length === 0) throw invalidArgument("exec: a command or --process is required");
    const b = base ?? { user: { uid: 0, gid: 0 }, cwd: "/" };
    proc = { ...b, args: command, terminal: false, user: { ...b.user }, capabilities: b.capabilities && { ...b.capabilities } };
    delete proc.consoleSize;
  }
  if (f.tty) proc.terminal = true;
  if (f.cwd) proc.cwd = f.cwd;
  if (f.env.length) {
    const envs = [...(proc.env ?? [])];
    for (const kv of f.env) {
      if (!/^[^=]+=/.test(kv)) throw invalidArgument(`--env "${kv}": expected KEY=VALUE`);
      const key = kv.slice(0, kv.indexOf("=") + 1);
      const i = envs.findIndex((e) => e.startsWith(key));
      if (i >= 0) envs[i] = kv;
      else envs.push(kv);
    }
    proc.env = envs;
  }
  if (f.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(f.user);
    if (!m) throw invalidArgument(`--user "${f.user}": expected uid[:gid] as numbers`);
    proc.user = { ...proc.user, uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : proc.user.gid };
  }
  if (f.additionalGids.length) {
    proc.user = {
      ...proc.user,
      additionalGids: f.additionalGids.map((g) => {
        if (!/^\d+$/.test(g)) throw invalidArgument(`--additional-gids "${g}": expected a number`);
        return Number(g);
      }),
    };
  }
  if (f.cap.length) {
    const c = { ...proc.capabilities };
    const add = (list: string[] | undefined) => [...new Set([...(list ?? []), ...f.cap])];
    proc.capabilities = { ...c, bounding: add(c.bounding), effective: add(c.effective), permitted: add(c.permitted) };
  }
  if (f.newPrivs === false) proc.noNewPrivileges = true;
  return proc;
}
