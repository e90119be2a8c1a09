// Credentials, as Podman and Docker keep them, so existing logins work:
//   auth.json (containers-auth.json(5)): { "auths": { "registry[:port]": { "auth": base64("user:password") } } }
//     written by `berth login`; $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
//     else /run/containers/<uid>/auth.json (Podman's places).
//   ~/.docker/config.json ($DOCKER_CONFIG/config.json): the same "auths" map, read only.
// And the two schemes registries ask for: `WWW-Authenticate: Basic realm=…` and
// `WWW-Authenticate: Bearer realm=…,service=…,scope=…` (the token flow).
import * as fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { invalidArgument } from "../../errors.js";
import { DEFAULT_DOMAIN } from "../../image/index.js";

export interface Credentials {
  username: string;
  password: string;
}

/** The auth file berth writes, from the caller's environment. */
export function defaultAuthFile(env: Record<string, string | undefined>, uid = process.getuid?.() ?? 0): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, "containers", "auth.json");
  return `/run/containers/${uid}/auth.json`;
}

/** Docker's config file, from the caller's environment. */
export function dockerConfigFile(env: Record<string, string | undefined>): string {
  return path.join(env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), ".docker"), "config.json");
}

/** The keys a registry may be filed under: Docker Hub has a few historical names. */
function keysFor(domain: string): string[] {
  if (domain === DEFAULT_DOMAIN) return ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", "https://index.docker.io/v1"];
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v1/`];
}

type AuthDoc = { auths?: Record<string, { auth?: string; username?: string; password?: string }> } & Record<string, unknown>;

function readDoc(file: string): AuthDoc | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const doc = JSON.parse(text) as AuthDoc;
    if (typeof doc !== "object" || doc === null) throw new Error("expected an object");
    return doc;
  } catch (e) {
    throw invalidArgument(`auth file ${file}: not valid JSON: ${(e as Error).message}`);
  }
}

function decode(entry: { auth?: string; username?: string; password?: string }, file: string, key: string): Credentials | undefined {
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const text = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon < 0) throw invalidArgument(`auth file ${file}: auths.${key}.auth: expected base64 of "user:password"`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The credentials for a registry, from the first file that has them. */
export function findCredentials(domain: string, files: string[]): Credentials | undefined {
  for (const file of files) {
    const auths = readDoc(file)?.auths ?? {};
    for (const key of keysFor(domain)) {
      const entry = auths[key];
      if (entry) {
        const c = decode(entry, file, key);
        if (c) return c;
      }
    }
  }
  return undefined;
}

function writeDoc(file: string, doc: AuthDoc): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(doc, null, "\t") + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Files a login in auth.json, keeping whatever else the file holds. */
export function storeCredentials(file: string, domain: string, c: Credentials): void {
  const doc = readDoc(file) ?? {};
  doc.auths ??= {};
  for (const key of keysFor(domain)) delete doc.auths[key];
  doc.auths[domain] = { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") };
  writeDoc(file, doc);
}

/** Removes a login from auth.json; false when there was none. */
export function removeCredentials(file: string, domain: string): boolean {
  const doc = readDoc(file);
  if (!doc?.auths) return false;
  let found = false;
  for (const key of keysFor(domain)) {
    if (doc.auths[key]) {
      delete doc.auths[key];
      found = true;
    }
  }
  if (found) writeDoc(file, doc);
  return found;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header (RFC 7235: scheme, then comma-separated key=value or key="value"). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /\s*([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*(?:,|$)/gy;
  const rest = m[2]!;
  for (let p: RegExpExecArray | null; re.lastIndex < rest.length && (p = re.exec(rest)); ) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** Scopes as the token server takes them: one string per repository, actions merged. */
export function mergeScopes(scopes: string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const s of scopes.flatMap((x) => x.split(" ")).filter(Boolean)) {
    const last = s.lastIndexOf(":");
    const resource = s.slice(0, last);
    const actions = byResource.get(resource) ?? new Set<string>();
    for (const a of s.slice(last + 1).split(",")) if (a) actions.add(a);
    byResource.set(resource, actions);
  }
  return [...byResource].map(([r, a]) => `${r}:${[...a].sort().join(",")}`).sort();
}
