// cp: copy files between a container and the host, like docker cp. One side is CONTAINER:PATH,
// the other a host path or "-" (a tar stream on stdin or stdout).
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { type CommandEnv, engine } from "./globals.js";

interface Side {
  container?: string;
  path: string;
}

/** Docker's reading: an absolute path or one starting with "." is the host's, else CONTAINER:PATH when there is a colon. */
function side(arg: string): Side {
  if (arg.startsWith("/")) return { path: arg };
  const colon = arg.indexOf(":");
  if (colon < 0 || arg.startsWith(".")) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

/** A host path from the user's working directory, keeping a trailing "/" or "/." (they mean something to cp). */
function hostPath(env: CommandEnv, p: string): string {
  const abs = path.resolve(env.cli.cwd, p);
  if (p.endsWith("/.") || p === ".") return abs === "/" ? "/." : `${abs}/.`;
  if (p.endsWith("/") && abs !== "/") return `${abs}/`;
  return abs;
}

/** A tar to stdout; a reader that stops early (`| head`) ends it quietly, as SIGPIPE would. */
export async function toStdout(tar: Readable, out: Writable): Promise<void> {
  try {
    await pipeline(tar, out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
  }
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("cp")
    .description("copy files between a container and the host (CONTAINER:SRC DEST|- or SRC|- CONTAINER:DEST)")
    .argument("<src>", "CONTAINER:SRC, a host path, or - for a tar on stdin")
    .argument("<dest>", "CONTAINER:DEST, a host path, or - for a tar on stdout")
    .option("-a, --archive", "keep owners (uid/gid) from the source")
    .option("-L, --follow-link", "follow a symlink SRC")
    .option("-q, --quiet", "print nothing (the default)")
    .action(async (srcArg: string, destArg: string, o: { archive?: boolean; followLink?: boolean }) => {
      const src = side(srcArg);
      const dest = side(destArg);
      const opts = { archive: o.archive, followLink: o.followLink };
      if (src.container !== undefined && dest.container !== undefined) throw invalidArgument("cp: copying between containers is not supported");
      if (src.container === undefined && dest.container === undefined) throw invalidArgument("cp: one of SRC and DEST must be CONTAINER:PATH");
      for (const s of [src, dest]) if (s.container === "") throw invalidArgument(`cp: ${JSON.stringify(s.path)}: the container name is empty`);
      const e = engine(env);
      if (src.container !== undefined) {
        if (src.path === "") throw invalidArgument(`cp: ${srcArg}: the path in the container is empty`);
        if (dest.path === "-") {
          if ((env.cli.stdout as { isTTY?: boolean }).isTTY) throw invalidArgument("cp: refusing to write a tar archive to a terminal: redirect stdout");
          await toStdout(e.archiveFrom(src.container, src.path, opts), env.cli.stdout as Writable);
        } else {
          await e.copyFrom(src.container, src.path, hostPath(env, dest.path), opts);
        }
        return;
      }
      if (dest.path === "") throw invalidArgument(`cp: ${destArg}: the path in the container is empty`);
      if (src.path === "-") {
        const stdin = env.cli.stdin;
        if (!stdin || (stdin as { isTTY?: boolean }).isTTY) throw invalidArgument("cp: no input: send a tar archive on stdin");
        await e.archiveTo(dest.container!, dest.path, stdin instanceof Readable ? stdin : Readable.from(stdin), opts);
      } else {
        await e.copyTo(dest.container!, hostPath(env, src.path), dest.path, opts);
      }
    });
}
