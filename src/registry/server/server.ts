// `berth registry serve` as a library: an HTTP(S) server for the OCI distribution API over a
// storage directory. It holds the storage's lock while it runs (so `berth registry gc` never
// sweeps under it), logs one line per request through `log`, removes abandoned uploads, and
// on close() stops taking connections and finishes the requests under way.

import * as fs from "node:fs";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { BerthError, invalidArgument } from "../../errors.js";
import { acquireLock, unlinkQuiet } from "../../image/lock.js";
import { allows, Htpasswd, parseScope, TOKEN_SERVICE, Tokens, type Access } from "./auth.js";
import { registryError, RegistryError } from "./errors.js";
import * as routes from "./routes.js";
import { RegistryStorage } from "./storage.js";
import { Uploads } from "./uploads.js";

export interface RegistryOptions {
  /** the storage directory (an OCI image layout plus the registry's links) */
  storage: string;
  host: string;
  /** 0 picks a free port */
  port: number;
  /** an htpasswd file of bcrypt hashes: Basic authentication for every request */
  htpasswd?: string;
  /** with htpasswd: Docker's bearer-token flow, the registry issuing tokens at /token */
  tokenAuth?: boolean;
  tls?: { cert: string; key: string };
  readOnly?: boolean;
  /** upload sessions idle this long are removed (default one hour) */
  uploadTtlMs?: number;
  /** how many upload sessions may be open at once before TOOMANYREQUESTS (default 1000) */
  maxUploads?: number;
  /** one line per request (access log) */
  log?: (line: string) => void;
  /** failures that are the server's own (500s), one line each */
  warn?: (line: string) => void;
}

export interface Registry {
  readonly host: string;
  readonly port: number;
  /** http://host:port or https://host:port */
  readonly url: string;
  /** Stops taking connections, lets the requests under way finish (at most graceMs), releases the storage. */
  close(graceMs?: number): Promise<void>;
}

/** The lock file a running server and gc both take: one of them at a time owns a storage. */
export function lockStorage(storage: string, what: string): () => void {
  const file = path.join(storage, "lock");
  fs.mkdirSync(storage, { recursive: true });
  acquireLock(file, `registry storage ${storage} (${what})`);
  return () => unlinkQuiet(file);
}

function readPem(file: string, flag: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw invalidArgument(`${flag} ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
}

/** Splits a request path into its route and decoded parts; never decodes before matching. */
function route(pathname: string): { kind: string; name?: string; arg?: string } | undefined {
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s; // a bad escape: left as is, which the name or digest check then refuses
    }
  };
  if (pathname === "/v2/" || pathname === "/v2") return { kind: "base" };
  if (pathname === "/v2/_catalog") return { kind: "catalog" };
  const patterns: [string, RegExp][] = [
    ["tags", /^\/v2\/(.+)\/tags\/list$/],
    ["manifests", /^\/v2\/(.+)\/manifests\/([^/]+)$/],
    ["startUpload", /^\/v2\/(.+)\/blobs\/uploads\/?()$/],
    ["upload", /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/],
    ["blobs", /^\/v2\/(.+)\/blobs\/([^/]+)$/],
    ["referrers", /^\/v2\/(.+)\/referrers\/([^/]+)$/],
  ];
  for (const [kind, re] of patterns) {
    const m = re.exec(pathname);
    if (m) return { kind, name: decode(m[1]!), arg: m[2] === undefined ? undefined : decode(m[2]) };
  }
  return undefined;
}

export async function startRegistry(opts: RegistryOptions): Promise<Registry> {
  const htpasswd = opts.htpasswd !== undefined ? new Htpasswd(opts.htpasswd) : undefined;
  if (opts.tokenAuth && !htpasswd) throw invalidArgument("--token-auth needs --htpasswd: tokens are issued to the users it lists");
  const tokens = opts.tokenAuth ? new Tokens() : undefined;
  const tls = opts.tls ? { cert: readPem(opts.tls.cert, "--tls-cert"), key: readPem(opts.tls.key, "--tls-key") } : undefined;
  const storage = new RegistryStorage(path.resolve(opts.storage));
  const release = lockStorage(storage.root, "berth registry serve");
  let server: http.Server;
  let sweeper: NodeJS.Timeout | undefined;
  try {
    storage.init();
    const ttlMs = opts.uploadTtlMs ?? 3_600_000;
    const uploads = new Uploads(storage, { ttlMs, maxSessions: opts.maxUploads ?? 1000 });
    uploads.sweep();
    storage.content.cleanIngests(ttlMs); // single-POST temp files a killed server left
    sweeper = setInterval(() => uploads.sweep(), Math.max(500, Math.min(ttlMs / 2, 60_000)));
    sweeper.unref();
    const ctx: routes.RouteContext = { storage, uploads, readOnly: opts.readOnly ?? false };
    let closing = false;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const started = process.hrtime.bigint();
      let user: string | undefined;
      res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
      if (closing) res.setHeader("Connection", "close");
      res.on("finish", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const remote = req.socket.remoteAddress ?? "-";
        const length = res.getHeader("content-length") ?? "-";
        opts.log?.(`${remote} - ${user ?? "-"} [${new Date().toISOString()}] "${req.method} ${(req.url ?? "").slice(0, 2000)} HTTP/${req.httpVersion}" ${res.statusCode} ${length} ${ms.toFixed(1)}ms`);
      });
      handle(req, res, (u) => (user = u)).catch((e: unknown) => fail(req, res, e));
    };
    // the host the client reached us by, for the token realm; anything odd in it falls back to our address
    const realmHost = (req: IncomingMessage) => {
      const host = req.headers.host;
      if (host !== undefined && /^[A-Za-z0-9.:[\]-]{1,300}$/.test(host)) return host;
      const a = server.address() as AddressInfo;
      return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    };
    const basicChallenge = { "WWW-Authenticate": 'Basic realm="berth registry"' };
    const handle = async (req: IncomingMessage, res: ServerResponse, setUser: (u: string) => void) => {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const pathname = q < 0 ? url : url.slice(0, q);
      const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
      if (tokens && pathname === "/token") {
        if (req.method !== "GET") throw registryError("UNSUPPORTED", `${req.method} is not supported on /token`);
        const who = await htpasswd!.verify(req.headers.authorization);
        if (who === undefined) throw registryError("UNAUTHORIZED", "authentication required").with(basicChallenge);
        setUser(who);
        const access = query.getAll("scope").flatMap((s) => s.split(" ")).map(parseScope).filter((a): a is Access => a !== undefined);
        const body = JSON.stringify(tokens.issue(who, access));
        res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const r = route(pathname);
      if (!r) throw registryError("UNSUPPORTED", `no such endpoint: ${pathname.slice(0, 200)}`, undefined, 404);
      if (tokens) {
        // what this request needs: pull to read, push to write, delete to delete; the catalog its own scope
        const need: Access | undefined =
          r.kind === "base" ? undefined : r.kind === "catalog" ? { type: "registry", name: "catalog", actions: ["*"] } : { type: "repository", name: r.name!, actions: [req.method === "GET" || req.method === "HEAD" ? "pull" : req.method === "DELETE" ? "delete" : "push"] };
        const token = tokens.verify(req.headers.authorization);
        const basic = token === undefined && /^Basic /i.test(req.headers.authorization ?? "") ? await htpasswd!.verify(req.headers.authorization) : undefined;
        if (basic !== undefined) setUser(basic);
        else if (token !== undefined && (need === undefined || allows(token.access, need))) setUser(token.sub);
        else {
          const scheme = tls ? "https" : "http";
          const scope = need === undefined ? "" : `,scope="${need.type}:${need.name}:${need.type === "repository" && need.actions[0] === "push" ? "pull,push" : need.actions.join(",")}"`;
          throw registryError("UNAUTHORIZED", token === undefined ? "authentication required" : `the token does not grant ${need!.actions.join(",")} on ${need!.name}`, need ? [{ Type: need.type, Name: need.name, Action: need.actions[0] }] : undefined).with({
            "WWW-Authenticate": `Bearer realm="${scheme}://${realmHost(req)}/token",service="${TOKEN_SERVICE}"${scope}`,
          });
        }
      } else if (htpasswd) {
        const who = await htpasswd.verify(req.headers.authorization);
        if (who === undefined) throw registryError("UNAUTHORIZED", "authentication required").with(basicChallenge);
        setUser(who);
      }
      if (ctx.readOnly && req.method !== "GET" && req.method !== "HEAD") {
        if (req.method === "DELETE") throw registryError("UNSUPPORTED", "this registry is read-only: deleting is disabled");
        throw registryError("DENIED", "this registry is read-only: pushing is disabled");
      }
      switch (r.kind) {
        case "base":
          return routes.base(req, res);
        case "catalog":
          return routes.catalog(ctx, req, res, query);
        case "tags":
          return routes.tagsList(ctx, req, res, r.name!, query);
        case "manifests":
          return routes.manifests(ctx, req, res, r.name!, r.arg!);
        case "startUpload":
          return routes.startUpload(ctx, req, res, r.name!, query);
        case "upload":
          return routes.upload(ctx, req, res, r.name!, r.arg!, query);
        case "blobs":
          return routes.blobs(ctx, req, res, r.name!, r.arg!);
        case "referrers":
          return routes.referrers(ctx, req, res, r.name!, r.arg!, query);
      }
    };
    const fail = (req: IncomingMessage, res: ServerResponse, e: unknown) => {
      if (res.headersSent || !res.socket || res.socket.destroyed) {
        // the answer has begun, or the client is gone: all that is left is to end the exchange
        res.destroy();
        return;
      }
      let err: RegistryError;
      if (e instanceof RegistryError) err = e;
      else if (e instanceof BerthError && e.kind === "InvalidArgument") err = registryError("BLOB_UPLOAD_INVALID", e.message);
      else {
        opts.warn?.(`${req.method} ${req.url}: ${e instanceof Error ? e.message : String(e)}`);
        err = new RegistryError("UNSUPPORTED", "internal error", undefined, 500);
      }
      const body = Buffer.from(err.body());
      const answer = () => {
        res.writeHead(err.status, { ...err.headers, "Content-Type": "application/json", "Content-Length": body.length });
        res.end(req.method === "HEAD" ? undefined : body);
      };
      if (req.complete || req.readableEnded) return answer();
      // A body not read yet: a small one is read to its end so the client, still sending, sees
      // the answer; a big one is not worth it, and the connection closes after the answer.
      const declared = Number(req.headers["content-length"] ?? NaN);
      if (!(declared <= routes.DRAIN_MAX)) {
        res.shouldKeepAlive = false;
        return answer();
      }
      req.once("end", answer);
      req.once("error", () => res.destroy());
      req.resume();
    };
    server = tls ? https.createServer({ ...tls }, handler) : http.createServer(handler);
    server.requestTimeout = 0; // a big layer may take long; idle sockets still time out
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "EADDRINUSE" ? invalidArgument(`--addr ${opts.host}:${opts.port}: address already in use`) : e));
      server.listen(opts.port, opts.host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    let closed: Promise<void> | undefined;
    return {
      host: address.address,
      port: address.port,
      url: `${tls ? "https" : "http"}://${host}:${address.port}`,
      close(graceMs = 30_000) {
        closed ??= new Promise<void>((resolve) => {
          closing = true;
          clearInterval(sweeper);
          const force = setTimeout(() => server.closeAllConnections(), graceMs);
          const idle = setInterval(() => server.closeIdleConnections(), 200);
          server.close(() => {
            clearTimeout(force);
            clearInterval(idle);
            release();
            resolve();
          });
          server.closeIdleConnections();
        });
        return closed;
      },
    };
  } catch (e) {
    clearInterval(sweeper);
    release();
    throw e;
  }
}
