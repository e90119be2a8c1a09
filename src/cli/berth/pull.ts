// pull: an image from a registry, shown as docker pull shows it (progress.ts); the last line
// is the full name. --all-tags pulls every tag of the repository.
import type { Command } from "commander";
import { BerthError, invalidArgument, unavailable } from "../../errors.js";
import { onCallerSignal } from "../context.js";
import { parseReference } from "../../image/index.js";
import { parsePlatform } from "../../oci/index.js";
import { clientsFor, listTags } from "../../registry/client/index.js";
import { type CommandEnv, engine } from "./globals.js";
import { PullProgress, progressMode } from "./progress.js";
import { type AuthFlags, registryOptions } from "./registry-flags.js";

interface PullFlags extends AuthFlags {
  platform?: string;
  allTags?: boolean;
  quiet?: boolean;
  format?: string;
}

/** Pulls with progress on `out`; returns the full name stored. ^C stops it cleanly (what it downloaded is kept to resume). */
export async function pullWithProgress(env: CommandEnv, ref: string, f: PullFlags, out: NodeJS.WritableStream): Promise<string> {
  const mode = progressMode(out, f.format, f.quiet);
  const stop = new AbortController();
  const off = onCallerSignal(env.cli, ["SIGINT", "SIGTERM"], () => stop.abort(unavailable("interrupted")));
  try {
    const result = await engine(env).pull(ref, {
      ...registryOptions(env, f),
      ...(f.platform ? { platform: parsePlatform(f.platform) } : {}),
      onEvent: new PullProgress(out, mode).event,
      signal: stop.signal,
    });
    return result.name;
  } finally {
    off();
  }
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("pull")
    .description("download an image from a registry")
    .argument("<image>", "NAME[:TAG|@DIGEST]")
    .option("--platform <os/arch[/variant]>", "the platform to pick from a multi-platform image (default: this host's)")
    .option("-a, --all-tags", "download every tagged image of the repository")
    .option("-q, --quiet", "print only the image's name")
    .option("--format <format>", "json: progress as JSON events, one a line")
    .option("--authfile <file>", "credentials file (default $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)")
    .action(async (image: string, f: PullFlags) => {
      if (f.format !== undefined && f.format !== "json") throw invalidArgument(`--format ${JSON.stringify(f.format)}: expected json`);
      const out = env.cli.stdout;
      const ref = parseReference(image);
      let refs = [image];
      if (f.allTags) {
        if (/[:@][^/]*$/.test(image)) throw invalidArgument(`pull --all-tags ${image}: give a repository without a tag or digest`);
        const [client] = clientsFor(ref.domain, "pull", registryOptions(env, f));
        try {
          refs = (await listTags(client!, ref)).map((t) => `${ref.name}:${t}`);
        } catch (e) {
          throw e instanceof BerthError ? new BerthError(e.kind, `pull ${ref.familiar()}: ${e.message}`) : e;
        } finally {
          client!.close();
        }
        if (refs.length === 0) throw invalidArgument(`pull --all-tags ${image}: the repository has no tags`);
      } else if (!f.quiet && f.format === undefined && !/[:@][^/]*$/.test(image)) out.write("Using default tag: latest\n");
      for (const r of refs) {
        const name = await pullWithProgress(env, r, f, out);
        if (f.format === undefined) out.write(`${name}\n`);
      }
    });
}

/** `run`/`create --pull`: missing (the default) pulls an image the store lacks, always pulls, never does not. */
export async function ensureImage(env: CommandEnv, image: string, policy: string | undefined, platform?: string): Promise<void> {
  const p = policy ?? "missing";
  if (p !== "missing" && p !== "always" && p !== "never") throw invalidArgument(`--pull ${JSON.stringify(p)}: expected missing, always or never`);
  if (p === "never") return;
  if (p === "missing") {
    try {
      engine(env).images.resolve(image);
      return;
    } catch (e) {
      if (!(e instanceof BerthError) || e.kind !== "NotFound") throw e;
    }
  }
  let ref;
  try {
    ref = parseReference(image);
  } catch {
    return; // not a name (an ID): create says it is not here
  }
  if (p === "missing") env.cli.stderr.write(`Unable to find image '${ref.familiar()}' locally\n`);
  await pullWithProgress(env, image, { platform }, env.cli.stderr);
}
