// pause / resume: freeze and thaw a container's processes.
import type { Command } from "commander";
import { pause, resume } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("pause")
    .description("suspend all processes in a container")
    .argument("<container-id>")
    .action((id: string) => pause(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id));
  program
    .command("resume")
    .description("resume all processes of a paused container")
    .argument("<container-id>")
    .action((id: string) => resume(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id));
}
