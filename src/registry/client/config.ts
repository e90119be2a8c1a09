// Which address and transport a registry name means. As Docker does it: registries on loopback
// (127.0.0.0/8, ::1, localhost) speak plain http with no configuration; every other registry
// speaks https, verified against the system's CAs plus a per-host CA directory in the
// certs.d layout (/etc/containers/certs.d/<host[:port]>/*.crt, client.cert/client.key pairs);
// a registries file names plain-http ("insecure") registries and mirrors:
//   { "insecure-registries": ["reg.lan:5000"], "mirrors": { "docker.io": ["mirror.lan:5000"] } }
import * as fs from "node:fs";
import path from "node:path";
import { invalidArgument } from "../../errors.js";
import { DEFAULT_DOMAIN } from "../../image/index.js";

export interface RegistryConfig {
  insecure: string[];
  mirrors: Record<string, string[]>;
  /** directories in the certs.d layout, searched in order */
  certsDirs: string[];
}

export const DEFAULT_CERTS_DIRS = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/** Where a registry is reached: a base URL and the TLS material for it. */
export interface Endpoint {
  /** the registry's name as references spell it (docker.io, 127.0.0.1:5000) */
  domain: string;
  /** host[:port] actually dialled (registry-1.docker.io for docker.io, or a mirror) */
  host: string;
  scheme: "http" | "https";
  /** extra CAs (PEM) for this host, on top of the system's */
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  mirror: boolean;
}

/** Reads the registries file; a missing file is an empty configuration. */
export function loadRegistryConfig(file: string | undefined, certsDirs: string[] = DEFAULT_CERTS_DIRS): RegistryConfig {
  const config: RegistryConfig = { insecure: [], mirrors: {}, certsDirs };
  if (!file) return config;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return config;
    throw e;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`registries config ${file}: not valid JSON: ${(e as Error).message}`);
  }
  const bad = (what: string) => invalidArgument(`registries config ${file}: ${what}`);
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw bad("expected an object");
  const d = doc as Record<string, unknown>;
  const strings = (v: unknown, what: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw bad(`${what}: expected an array of host[:port] strings`);
    return v as string[];
  };
  config.insecure = strings(d["insecure-registries"], "insecure-registries");
  if (d.mirrors !== undefined) {
    if (typeof d.mirrors !== "object" || d.mirrors === null || Array.isArray(d.mirrors)) throw bad("mirrors: expected an object of registry -> [mirror host[:port]]");
    for (const [k, v] of Object.entries(d.mirrors)) config.mirrors[k] = strings(v, `mirrors.${k}`).map((m) => m.replace(/^https?:\/\//, "").replace(/\/+$/, ""));
  }
  if (d["certs-dirs"] !== undefined) config.certsDirs = strings(d["certs-dirs"], "certs-dirs");
  return config;
}

/** Whether host[:port] is a loopback address (plain http without configuration, as Docker). */
export function isLoopback(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function tlsFor(host: string, dirs: string[]): Pick<Endpoint, "ca" | "cert" | "key"> {
  const out: Pick<Endpoint, "ca" | "cert" | "key"> = {};
  for (const base of dirs) {
    const dir = path.join(base, host.replace(/^\[|\]$/g, ""));
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const file = path.join(dir, n);
      if (n.endsWith(".crt")) (out.ca ??= []).push(fs.readFileSync(file));
      else if (n.endsWith(".cert") && !out.cert) {
        const key = path.join(dir, n.replace(/\.cert$/, ".key"));
        if (!fs.existsSync(key)) throw invalidArgument(`certs.d ${dir}: ${n} has no matching ${path.basename(key)}`);
        out.cert = fs.readFileSync(file);
        out.key = fs.readFileSync(key);
      }
    }
  }
  return out;
}

function endpoint(domain: string, host: string, config: RegistryConfig, mirror: boolean): Endpoint {
  const plain = isLoopback(host) || config.insecure.includes(host);
  return { domain, host, scheme: plain ? "http" : "https", mirror, ...(plain ? {} : tlsFor(host, config.certsDirs)) };
}

/** The endpoints to try for a registry, in order: its mirrors (for pulls), then itself. */
export function endpointsFor(domain: string, config: RegistryConfig, purpose: "pull" | "push"): Endpoint[] {
  const own = endpoint(domain, domain === DEFAULT_DOMAIN ? "registry-1.docker.io" : domain, config, false);
  if (purpose === "push") return [own];
  return [...(config.mirrors[domain] ?? []).map((m) => endpoint(domain, m, config, true)), own];
}
