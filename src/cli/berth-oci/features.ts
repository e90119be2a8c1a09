// features: the runtime-spec features document of this build.
import type { Command } from "commander";
import { features } from "../../runtime/index.js";
import type { CommandEnv } from "./globals.js";
import { VERSION } from "./version.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("features")
    .description("show what this runtime supports (JSON)")
    .action(() => {
      env.cli.stdout.write(JSON.stringify(features(VERSION), null, "    ") + "\n");
    });
}
