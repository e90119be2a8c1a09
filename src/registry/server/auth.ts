// Basic authentication against an htpasswd file of bcrypt hashes (what `htpasswd -B` writes:
// "user:$2y$05$…"). bcrypt is slow on purpose, so a credential that verified once is
// remembered (by a sha256 of it, never the password) and later requests skip the hash.

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import bcrypt from "bcryptjs";
import { invalidArgument } from "../../errors.js";

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const REMEMBERED_MAX = 1024;

export class Htpasswd {
  private readonly users = new Map<string, string>();
  private readonly remembered = new Set<string>();

  constructor(file: string) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (e) {
      throw invalidArgument(`--htpasswd ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const colon = line.indexOf(":");
      const user = line.slice(0, colon);
      const hash = line.slice(colon + 1);
      if (colon <= 0 || !BCRYPT.test(hash)) {
        throw invalidArgument(`--htpasswd ${file}: line ${i + 1}: expected user:bcrypt-hash (as "htpasswd -B" writes), got ${JSON.stringify(line.slice(0, 40))}`);
      }
      this.users.set(user, hash);
    });
    if (this.users.size === 0) throw invalidArgument(`--htpasswd ${file}: no users in it`);
  }

  /** The user an Authorization header names, when its password is right. */
  async verify(header: string | undefined): Promise<string | undefined> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const hash = this.users.get(user);
    if (hash === undefined) return undefined;
    const key = createHash("sha256").update(hash).update("\0").update(decoded).digest("hex");
    if (this.remembered.has(key)) return user;
    if (!(await bcrypt.compare(decoded.slice(colon + 1), hash))) return undefined;
    if (this.remembered.size >= REMEMBERED_MAX) this.remembered.clear();
    this.remembered.add(key);
    return user;
  }
}

// ---- bearer tokens (Docker's token authentication, with the registry as its own issuer) ----
//
// 401 answers carry `WWW-Authenticate: Bearer realm="<url>/token",service=…,scope=…`; the
// client asks GET /token?service=&scope=repository:<name>:pull,push with its Basic
// credentials and gets a token good for those scopes for TOKEN_TTL_S seconds. A token is
// base64url(JSON payload) "." base64url(HMAC-SHA256), keyed by a secret made at start, so
// tokens die with the server (clients simply ask again).

export const TOKEN_SERVICE = "berth-registry";
const TOKEN_TTL_S = 300;

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Parses `repository:x/y:pull,push` (a name may not hold ":", so the last ":" splits actions). */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(",").filter(Boolean) };
}

export class Tokens {
  private readonly secret = randomBytes(32);

  issue(user: string, access: Access[], now = Date.now()): { token: string; access_token: string; expires_in: number; issued_at: string } {
    const payload = b64url(JSON.stringify({ sub: user, access, exp: Math.floor(now / 1000) + TOKEN_TTL_S }));
    const token = `${payload}.${b64url(createHmac("sha256", this.secret).update(payload).digest())}`;
    return { token, access_token: token, expires_in: TOKEN_TTL_S, issued_at: new Date(now).toISOString() };
  }

  /** The token's user and access when it is ours and not expired. */
  verify(header: string | undefined, now = Date.now()): { sub: string; access: Access[] } | undefined {
    const m = /^Bearer\s+([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\s*$/i.exec(header ?? "");
    if (!m) return undefined;
    const want = createHmac("sha256", this.secret).update(m[1]!).digest();
    const got = Buffer.from(m[2]!, "base64url");
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    try {
      const p = JSON.parse(Buffer.from(m[1]!, "base64url").toString("utf8")) as { sub: string; access: Access[]; exp: number };
      return p.exp * 1000 > now ? p : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Whether a token's access covers `need` (an action on a repository, or the catalog). */
export function allows(access: Access[], need: Access): boolean {
  return need.actions.every((a) => access.some((x) => x.type === need.type && (x.name === need.name || x.name === "*") && (x.actions.includes(a) || x.actions.includes("*"))));
}
