// spec: write a default config.json, as `runc spec` does.
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { alreadyExists } from "../../errors.js";
import { defaultSpec } from "../../oci/index.js";
import type { CommandEnv } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("spec")
    .description("create a new specification file (config.json)")
    .option("-b, --bundle <dir>", "directory to write config.json in")
    .option("--rootless", "a config for a container run by an unprivileged user")
    .action((opts: { bundle?: string; rootless?: boolean }) => {
      const dir = path.resolve(env.cli.cwd, opts.bundle ?? ".");
      const file = path.join(dir, "config.json");
      if (existsSync(file)) throw alreadyExists(`${file} exists; remove it first`);
      const spec = defaultSpec({ rootless: opts.rootless, uid: process.getuid?.(), gid: process.getgid?.() });
      writeFileSync(file, JSON.stringify(spec, null, "\t") + "\n");
    });
}
