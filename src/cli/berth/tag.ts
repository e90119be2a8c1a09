// tag: another name for an image.
import type { Command } from "commander";
import { type CommandEnv, imageStore } from "./globals.js";

export function register(parent: Command, env: CommandEnv, name = "tag"): void {
  parent
    .command(name)
    .description("give an image another name")
    .argument("<source>", "SOURCE_IMAGE[:TAG] or ID")
    .argument("<target>", "TARGET_IMAGE[:TAG]")
    .action((source: string, target: string) => {
      imageStore(env).tag(source, target);
    });
}
