// One registry endpoint over HTTP: requests with the auth the registry asks for (Basic, or the
// Bearer token flow with tokens cached per scope), redirects, and retries with exponential
// backoff on transient failures (connection errors, 408/429/5xx), bounded in count.
import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import tls from "node:tls";
import { BerthError, failedPrecondition, invalidArgument, notFound, unavailable } from "../../errors.js";
import { mergeScopes, parseChallenge, type Challenge, type Credentials } from "./auth.js";
import type { Endpoint } from "./config.js";

export interface ClientOptions {
  credentials?: Credentials;
  /** tries after the first for a transient failure (default 5: about 8 s of backoff in all) */
  retries?: number;
  /** first backoff; doubles each try, capped at 4 s */
  backoffMs?: number;
  userAgent?: string;
}

export interface RequestOptions {
  method?: string;
  /** a path under the endpoint (/v2/…) or an absolute URL (an upload Location) */
  path: string;
  headers?: Record<string, string>;
  /** a buffer, or a function giving a fresh stream for each try */
  body?: Buffer | (() => Readable);
  /** token scopes this request needs ("repository:library/busybox:pull") */
  scope?: string[];
  /** statuses returned rather than thrown (default: 2xx) */
  ok?: (status: number) => boolean;
  /** names the thing in errors ("manifest busybox:latest") */
  what: string;
  /** no retries (a caller that resumes by itself) */
  once?: boolean;
  /** ends the request (and its body) */
  signal?: AbortSignal;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  url: URL;
}

const TRANSIENT_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH", "ECONNABORTED", "UND_ERR_SOCKET", "ERR_STREAM_PREMATURE_CLOSE"]);
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const HEADER_TIMEOUT_MS = 30_000;

/** Whether an error is worth another try (the connection broke or timed out; not a refusal). */
export function isTransient(e: unknown): boolean {
  if (e instanceof BerthError) return e.kind === "Unavailable";
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code !== undefined && TRANSIENT_CODES.has(code)) || /socket hang up|aborted|timed out|premature close/i.test((e as Error)?.message ?? "");
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => (clearTimeout(t), reject(signal!.reason));
    const t = setTimeout(() => (signal?.removeEventListener("abort", onAbort), resolve()), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** The backoff before try `n` (1-based): backoff·2^(n-1), capped at 4 s, with ±20 % jitter. */
export function backoff(n: number, baseMs = 250): number {
  return Math.min(4000, baseMs * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4);
}

// tokens by realm, service, user and scopes, shared by every client in the process
const tokens = new Map<string, { token: string; expires: number }>();

/** Reads a small response body (an error document, a manifest, a token), at most `limit` bytes. */
export async function readBody(res: http.IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw invalidArgument(`${what}: response larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The registry's error document as one line: "manifest unknown: manifest unknown". */
async function errorOf(res: http.IncomingMessage, what: string, host: string): Promise<BerthError> {
  let text = "";
  try {
    text = (await readBody(res, 64 * 1024, what)).toString("utf8");
  } catch {
    // the status is enough
  }
  let detail = "";
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string; message?: string }[]; details?: string };
    detail = (doc.errors ?? [])
      .map((e) => [e.code?.toLowerCase().replace(/_/g, " "), e.message && e.message.toLowerCase() !== e.code?.toLowerCase().replace(/_/g, " ") ? e.message : undefined].filter(Boolean).join(": "))
      .filter(Boolean)
      .join("; ");
    if (!detail && doc.details) detail = doc.details;
  } catch {
    detail = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
  }
  const status = res.statusCode ?? 0;
  const line = `${what}: ${detail || `${status} ${http.STATUS_CODES[status] ?? ""}`.trim()}`;
  if (status === 401 || status === 403) {
    return failedPrecondition(`${line.includes("unauthorized") || line.includes("denied") ? line : `${line}: unauthorized`} (log in with: berth login ${host})`);
  }
  if (status === 404) return notFound(line);
  if (TRANSIENT_STATUS.has(status)) return unavailable(`${line} (HTTP ${status} from ${host})`);
  return invalidArgument(`${line} (HTTP ${status} from ${host})`);
}

export class RegistryClient {
  private readonly agent: http.Agent;
  private challenge?: Challenge;
  readonly base: URL;

  constructor(
    readonly endpoint: Endpoint,
    private readonly opts: ClientOptions = {},
  ) {
    this.base = new URL(`${endpoint.scheme}://${endpoint.host}`);
    this.agent =
      endpoint.scheme === "https"
        ? new https.Agent({ keepAlive: true, maxSockets: 8, ...(endpoint.ca ? { ca: [...tls.rootCertificates, ...endpoint.ca.map((b) => b.toString())] } : {}), ...(endpoint.cert ? { cert: endpoint.cert, key: endpoint.key } : {}) })
        : new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  get host(): string {
    return this.endpoint.host;
  }

  close(): void {
    this.agent.destroy();
  }

  /** One HTTP exchange, no retries, no auth handling; the response body is the caller's. */
  private send(url: URL, method: string, headers: Record<string, string>, body: Buffer | (() => Readable) | undefined, signal?: AbortSignal): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const mod = url.protocol === "https:" ? https : http;
      const sameHost = url.host === this.base.host;
      const req = mod.request(url, { method, headers, agent: sameHost ? this.agent : undefined, signal }, resolve);
      req.setTimeout(HEADER_TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`no answer from ${url.host} in ${HEADER_TIMEOUT_MS / 1000} s`), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        const s = body();
        s.on("error", (e) => req.destroy(e));
        s.pipe(req);
      }
    });
  }

  private tokenKey(scopes: string[]): string | undefined {
    const c = this.challenge;
    if (c?.scheme !== "bearer") return undefined;
    return [c.params.realm, c.params.service ?? "", this.opts.credentials?.username ?? "", ...mergeScopes(scopes)].join("|");
  }

  private async token(scopes: string[], signal?: AbortSignal): Promise<string> {
    const key = this.tokenKey(scopes)!;
    const have = tokens.get(key);
    if (have && have.expires > Date.now()) return have.token;
    const c = this.challenge!;
    let realm: URL;
    try {
      realm = new URL(c.params.realm ?? "");
    } catch {
      throw invalidArgument(`registry ${this.host}: its WWW-Authenticate Bearer challenge has no valid realm (${JSON.stringify(c.params.realm ?? "")})`);
    }
    if (c.params.service) realm.searchParams.set("service", c.params.service);
    for (const s of mergeScopes(scopes)) realm.searchParams.append("scope", s);
    const headers: Record<string, string> = { "User-Agent": this.opts.userAgent ?? "berth" };
    const cred = this.opts.credentials;
    if (cred) {
      headers.Authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
      realm.searchParams.set("account", cred.username);
    }
    const what = `registry ${this.host}: token from ${realm.origin}${realm.pathname}`;
    const res = await this.withRetries(what, () => this.send(realm, "GET", headers, undefined, signal), undefined, signal);
    if (res.statusCode !== 200) {
      const e = await errorOf(res, what, this.endpoint.domain);
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw failedPrecondition(cred ? `registry ${this.endpoint.domain}: unauthorized: incorrect username or password` : `registry ${this.endpoint.domain}: unauthorized: authentication required (log in with: berth login ${this.endpoint.domain})`);
      }
      throw e;
    }
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse((await readBody(res, 1 << 20, what)).toString("utf8"));
    } catch (e) {
      throw e instanceof BerthError ? e : invalidArgument(`${what}: not a JSON token document`);
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw invalidArgument(`${what}: the answer has no token`);
    // a little early, so a token does not expire in flight
    const life = Math.max(10, (typeof doc.expires_in === "number" ? doc.expires_in : 60) - 10);
    tokens.set(key, { token, expires: Date.now() + life * 1000 });
    return token;
  }

  private async authorization(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    const c = this.challenge;
    if (c?.scheme === "bearer") return `Bearer ${await this.token(scopes, signal)}`;
    const cred = this.opts.credentials;
    if (c?.scheme === "basic" && cred) return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
    return undefined;
  }

  /** Runs `attempt` until it answers with a non-transient status, or the tries run out. */
  private async withRetries(what: string, attempt: () => Promise<http.IncomingMessage>, once: boolean | undefined, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const retries = once ? 0 : (this.opts.retries ?? 5);
    for (let n = 0; ; n++) {
      let res: http.IncomingMessage | undefined;
      let err: unknown;
      try {
        res = await attempt();
      } catch (e) {
        err = e;
      }
      if (signal?.aborted) throw signal.reason;
      const transient = res ? TRANSIENT_STATUS.has(res.statusCode ?? 0) : isTransient(err);
      if (!transient || n >= retries) {
        if (res) return res;
        if (isTransient(err)) {
          const code = (err as NodeJS.ErrnoException).code;
          const why = code === "ECONNREFUSED" ? `cannot connect to ${this.host}: connection refused` : `connection to ${this.host} failed: ${(err as Error).message}`;
          throw unavailable(`${what}: ${why}${n > 0 ? ` (after ${n + 1} tries)` : ""}`);
        }
        throw err;
      }
      const retryAfter = Number(res?.headers["retry-after"]);
      res?.resume();
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 && retryAfter <= 10 ? retryAfter * 1000 : backoff(n + 1, this.opts.backoffMs), signal);
    }
  }

  /** A request, authenticated as the registry asks, redirects followed; a status not `ok` throws. */
  async request(o: RequestOptions): Promise<Response> {
    const method = o.method ?? "GET";
    let url = new URL(o.path, this.base);
    const scopes = o.scope ?? [];
    let reauthed = false;
    for (let redirects = 0; ; ) {
      const headers: Record<string, string> = { "User-Agent": this.opts.userAgent ?? "berth", ...(o.headers ?? {}) };
      if (url.host === this.base.host) {
        const auth = await this.authorization(scopes, o.signal);
        if (auth) headers.Authorization = auth;
      }
      if (Buffer.isBuffer(o.body)) headers["Content-Length"] = String(o.body.length);
      const res = await this.withRetries(`${o.what}`, () => this.send(url, method, headers, o.body, o.signal), o.once, o.signal);
      const status = res.statusCode ?? 0;
      if (status === 401 && !reauthed && url.host === this.base.host) {
        const c = parseChallenge(String(res.headers["www-authenticate"] ?? ""));
        res.resume();
        const known = c && (c.scheme === "bearer" || (c.scheme === "basic" && this.opts.credentials));
        if (known) {
          const before = this.challenge;
          this.challenge = c;
          // a scope the registry names is asked for too, with ours
          if (c.scheme === "bearer" && c.params.scope) scopes.push(...c.params.scope.split(" "));
          if (before?.scheme === "bearer" && c.scheme === "bearer") tokens.delete(this.tokenKey(scopes)!); // refused: a stale token
          reauthed = true;
          continue;
        }
        throw failedPrecondition(`${o.what}: unauthorized: authentication required (log in with: berth login ${this.endpoint.domain})`);
      }
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && (method === "GET" || method === "HEAD")) {
        res.resume();
        if (++redirects > 5) throw invalidArgument(`${o.what}: more than 5 redirects`);
        url = new URL(res.headers.location, url);
        continue;
      }
      if (!(o.ok ?? ((s: number) => s >= 200 && s < 300))(status)) throw await errorOf(res, o.what, this.endpoint.domain);
      return { status, headers: res.headers, body: res, url };
    }
  }

  /** A request whose small body is read whole. */
  async fetch(o: RequestOptions, limit = 4 << 20): Promise<{ status: number; headers: http.IncomingHttpHeaders; data: Buffer }> {
    const r = await this.request(o);
    const data = o.method === "HEAD" ? (r.body.resume(), Buffer.alloc(0)) : await readBody(r.body, limit, o.what);
    return { status: r.status, headers: r.headers, data };
  }
}
