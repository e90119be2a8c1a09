// login: checks the credentials with the registry and files them in auth.json (registry-flags.ts
// says where); the password from -p, --password-stdin, or asked for on a terminal.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { login, logout } from "../../registry/client/index.js";
import type { CommandEnv } from "./globals.js";
import { type AuthFlags, authFile, registryOptions } from "./registry-flags.js";

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = "";
  for await (const c of stream) s += c.toString();
  return s;
}

/** A line typed on the terminal without echo. */
async function ask(env: CommandEnv, prompt: string, secret: boolean): Promise<string> {
  const stdin = env.cli.stdin as (NodeJS.ReadStream & { isTTY?: boolean }) | undefined;
  if (!stdin?.isTTY) throw invalidArgument(`login: ${prompt.replace(/: $/, "").toLowerCase()} is required: use -u/-p or --password-stdin`);
  env.cli.stderr.write(prompt);
  const raw = secret && typeof stdin.setRawMode === "function";
  if (raw) stdin.setRawMode(true);
  try {
    let line = "";
    for await (const c of stdin) {
      for (const ch of c.toString()) {
        if (ch === "\r" || ch === "\n") return line;
        if (ch === "\u0003") throw invalidArgument("login: interrupted");
        if (ch === "\u007f") line = line.slice(0, -1);
        else line += ch;
      }
    }
    return line;
  } finally {
    if (raw) {
      stdin.setRawMode(false);
      env.cli.stderr.write("\n");
    }
    stdin.pause();
  }
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("login")
    .description("log in to a registry")
    .argument("[registry]", "host[:port] (default docker.io)")
    .option("-u, --username <name>", "user name")
    .option("-p, --password <password>", "password (prefer --password-stdin)")
    .option("--password-stdin", "read the password from stdin")
    .option("--authfile <file>", "credentials file (default $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)")
    .action(async (registry: string | undefined, f: AuthFlags & { username?: string; password?: string; passwordStdin?: boolean }) => {
      if (f.password !== undefined && f.passwordStdin) throw invalidArgument("login: --password and --password-stdin are mutually exclusive");
      let password = f.password;
      if (f.passwordStdin) {
        if (!f.username) throw invalidArgument("login: --password-stdin needs --username");
        if (!env.cli.stdin) throw invalidArgument("login: --password-stdin: no standard input");
        password = (await readAll(env.cli.stdin)).replace(/\r?\n$/, "");
      }
      const username = f.username ?? (await ask(env, "Username: ", false));
      password ??= await ask(env, "Password: ", true);
      if (!username || !password) throw invalidArgument("login: user name and password must not be empty");
      await login(registry, { username, password }, authFile(env, f), registryOptions(env, f));
      env.cli.stdout.write("Login Succeeded!\n");
    });

  parent
    .command("logout")
    .description("remove the login for a registry")
    .argument("[registry]", "host[:port] (default docker.io)")
    .option("--authfile <file>", "credentials file (default $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)")
    .action(async (registry: string | undefined, f: AuthFlags) => {
      const { domain, removed } = logout(registry, authFile(env, f));
      if (!removed) throw invalidArgument(`logout: not logged in to ${domain}`);
      env.cli.stdout.write(`Removed login credentials for ${domain}\n`);
    });
}
