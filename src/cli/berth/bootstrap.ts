// bootstrap: images that need no registry — busybox from Debian's busybox-static, Debian from debootstrap.
import type { Command } from "commander";
import { bootstrapBusybox, bootstrapDebian, parseReference } from "../../image/index.js";
import { type CommandEnv, imageStore } from "./globals.js";

export function register(program: Command, env: CommandEnv): void {
  const bootstrap = program.command("bootstrap").description("create a base image without a registry");
  bootstrap
    .command("busybox")
    .description("busybox:latest from this host's static busybox (seconds)")
    .option("-t, --tag <reference>", "the name to give it", "busybox:latest")
    .action(async (opts: { tag: string }) => {
      parseReference(opts.tag);
      const image = await bootstrapBusybox(imageStore(env), opts.tag);
      env.cli.stdout.write(`${image.id}\n`);
    });
  bootstrap
    .command("debian")
    .description("debian:<suite> with debootstrap --variant=minbase, from the mirror apt uses (minutes)")
    .option("--suite <suite>", "the Debian suite", "bookworm")
    .option("--mirror <url>", "the Debian mirror (default: the one in apt's sources)")
    .option("-t, --tag <reference>", "the name to give it (default debian:<suite>; with --systemd, debian-systemd:<suite>)")
    .option("--include <packages>", "more packages, comma-separated (debootstrap --include)")
    .option("--systemd", "with systemd (and dbus) as its init: Cmd /sbin/init, StopSignal SIGRTMIN+3, for run --systemd")
    .option("--tarball <file>", "install from the packages of a debootstrap --make-tarball (same suite and packages): nothing is downloaded")
    .option("-q, --quiet", "do not show debootstrap's progress")
    .action(async (opts: { suite: string; mirror?: string; tag?: string; include?: string; systemd?: boolean; tarball?: string; quiet?: boolean }) => {
      if (opts.tag) parseReference(opts.tag);
      const image = await bootstrapDebian(imageStore(env), {
        suite: opts.suite,
        mirror: opts.mirror,
        ref: opts.tag,
        include: opts.include?.split(",").filter(Boolean),
        systemd: opts.systemd,
        tarball: opts.tarball,
        log: opts.quiet ? undefined : (line) => env.cli.stderr.write(`${line}\n`),
      });
      env.cli.stdout.write(`${image.id}\n`);
    });
}
