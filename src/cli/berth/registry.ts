// registry serve: the OCI distribution API over a storage directory, until SIGTERM or ^C.
// registry gc: remove the blobs no manifest refers to, while no server owns the storage.
import path from "node:path";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import { collectGarbage, startRegistry } from "../../registry/server/index.js";
import { onCallerSignal } from "../context.js";
import { type CommandEnv, dataRoot, userPath } from "./globals.js";

function duration(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw invalidArgument(`${flag} ${JSON.stringify(s)}: expected a duration such as 90s, 30m or 1h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"]!;
}

/** HOST:PORT, [IPv6]:PORT or :PORT (every address). */
function address(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw invalidArgument(`--addr ${JSON.stringify(s)}: expected HOST:PORT, [IPV6]:PORT or :PORT`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

function storageDir(env: CommandEnv, storage?: string): string {
  return storage !== undefined ? userPath(env, storage) : path.join(dataRoot(env), "registry");
}

export function register(parent: Command, env: CommandEnv): void {
  const registry = parent.command("registry").description("an OCI distribution registry of berth's own");
  registry
    .command("serve")
    .description("serve the OCI distribution API until SIGTERM")
    .option("--addr <host:port>", "where to listen (:0 picks a free port)", "127.0.0.1:5000")
    .option("--storage <dir>", "where blobs and repositories are kept (default <root>/registry)")
    .option("--htpasswd <file>", "require Basic auth against this bcrypt htpasswd file (htpasswd -B)")
    .option("--token-auth", "with --htpasswd: bearer tokens, issued by the registry at /token")
    .option("--tls-cert <file>", "serve HTTPS with this certificate (PEM)")
    .option("--tls-key <file>", "and this private key (PEM)")
    .option("--read-only", "refuse pushes and deletes")
    .option("--upload-ttl <duration>", "remove upload sessions idle this long", "1h")
    .option("--max-uploads <n>", "upload sessions open at once before TOOMANYREQUESTS", "1000")
    .action(async (opts: { addr: string; storage?: string; htpasswd?: string; tokenAuth?: boolean; tlsCert?: string; tlsKey?: string; readOnly?: boolean; uploadTtl: string; maxUploads: string }) => {
      const { host, port } = address(opts.addr);
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw invalidArgument("--tls-cert and --tls-key go together: give both or neither");
      const uploadTtlMs = duration(opts.uploadTtl, "--upload-ttl");
      if (!/^[1-9]\d{0,6}$/.test(opts.maxUploads)) throw invalidArgument(`--max-uploads ${JSON.stringify(opts.maxUploads)}: expected a positive integer`);
      const storage = storageDir(env, opts.storage);
      const out = env.cli.stdout;
      const reg = await startRegistry({
        storage,
        host,
        port,
        htpasswd: opts.htpasswd !== undefined ? userPath(env, opts.htpasswd) : undefined,
        tokenAuth: opts.tokenAuth,
        tls: opts.tlsCert && opts.tlsKey ? { cert: userPath(env, opts.tlsCert), key: userPath(env, opts.tlsKey) } : undefined,
        readOnly: opts.readOnly,
        uploadTtlMs,
        maxUploads: Number(opts.maxUploads),
        log: (line) => out.write(`${line}\n`),
        warn: (line) => env.cli.stderr.write(`berth registry: ${line}\n`),
      });
      if (opts.htpasswd !== undefined && !opts.tlsCert) env.cli.stderr.write("berth registry: warning: --htpasswd without TLS sends passwords in the clear\n");
      out.write(`berth registry: serving ${reg.url} from ${storage}${opts.readOnly ? " (read-only)" : ""}\n`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        // the listener stays until the end: a second signal must not kill a server that is finishing requests
        const stop = onCallerSignal(env.cli, ["SIGTERM", "SIGINT"], () => {
          if (stopping) return;
          stopping = true;
          out.write("berth registry: shutting down, finishing requests under way\n");
          reg.close().then(
            () => (stop(), resolve()),
            () => (stop(), resolve()),
          );
        });
      });
    });
  registry
    .command("gc")
    .description("remove blobs that no manifest refers to (refuses while a server uses the storage)")
    .option("--storage <dir>", "the registry storage (default <root>/registry)")
    .option("--dry-run", "list what would be removed, remove nothing")
    .option("--upload-ttl <duration>", "also remove upload sessions idle this long", "1h")
    .action((opts: { storage?: string; dryRun?: boolean; uploadTtl: string }) => {
      const r = collectGarbage(storageDir(env, opts.storage), { dryRun: opts.dryRun, uploadTtlMs: duration(opts.uploadTtl, "--upload-ttl") });
      for (const b of r.removed) env.cli.stdout.write(`${opts.dryRun ? "would remove" : "removed"} ${b.digest} ${b.size}\n`);
      env.cli.stdout.write(`${r.removed.length} blobs, ${r.bytes} bytes${opts.dryRun ? " would be" : ""} freed; ${r.uploads} abandoned uploads removed\n`);
    });
}
