// What every registry operation takes: where credentials and the registries file are, and
// how hard to try. The library reads no environment: the CLI fills these in from its own.
import { findCredentials, type Credentials } from "./auth.js";
import { endpointsFor, loadRegistryConfig, type RegistryConfig } from "./config.js";
import { RegistryClient } from "./http.js";

export interface RegistryOptions {
  /** auth files searched in order (auth.json, then ~/.docker/config.json) */
  authFiles?: string[];
  /** used instead of any auth file */
  credentials?: Credentials;
  /** the registries file (insecure registries, mirrors), or the configuration itself */
  registries?: string | RegistryConfig;
  /** tries after the first on a transient failure (default 5) */
  retries?: number;
  /** first backoff in ms (default 250; doubles, capped at 4 s) */
  backoffMs?: number;
  signal?: AbortSignal;
}

export function registryConfig(opts: RegistryOptions): RegistryConfig {
  return typeof opts.registries === "object" ? opts.registries : loadRegistryConfig(opts.registries);
}

/** A client for each endpoint to try for `domain`, mirrors first (pulls only). */
export function clientsFor(domain: string, purpose: "pull" | "push", opts: RegistryOptions): RegistryClient[] {
  const credentials = opts.credentials ?? findCredentials(domain, opts.authFiles ?? []);
  return endpointsFor(domain, registryConfig(opts), purpose).map(
    (e) => new RegistryClient(e, { credentials: e.mirror ? (findCredentials(e.host, opts.authFiles ?? []) ?? credentials) : credentials, retries: opts.retries, backoffMs: opts.backoffMs }),
  );
}
