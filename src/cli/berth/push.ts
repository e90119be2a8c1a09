// push: an image to a registry, as docker push shows it; DEST (or docker://DEST) pushes it under
// another name, as podman push does.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { type CommandEnv, engine } from "./globals.js";
import { PushProgress, progressMode } from "./progress.js";
import { registryOptions } from "./registry-flags.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("push")
    .description("upload an image to a registry")
    .argument("<image>", "NAME[:TAG] or image ID")
    .argument("[destination]", "where to push it: NAME[:TAG] or docker://NAME[:TAG] (default: the image's name)")
    .option("-q, --quiet", "print only the digest")
    .option("--format <format>", "json: progress as JSON events, one a line")
    .option("--authfile <file>", "credentials file (default $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)")
    .action(async (image: string, dest: string | undefined, f: { quiet?: boolean; format?: string; authfile?: string }) => {
      if (f.format !== undefined && f.format !== "json") throw invalidArgument(`--format ${JSON.stringify(f.format)}: expected json`);
      const chunk = Number(env.cli.env.BERTH_PUSH_CHUNK_SIZE ?? 0);
      const result = await engine(env).push(image, dest, {
        ...registryOptions(env, f),
        ...(chunk > 0 ? { chunkSize: chunk } : {}),
        onEvent: new PushProgress(env.cli.stdout, progressMode(env.cli.stdout, f.format, f.quiet)).event,
      });
      if (f.quiet) env.cli.stdout.write(`${result.digest}\n`);
    });
}
