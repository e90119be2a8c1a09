// login and logout: check credentials against the registry's /v2/ (Basic, or the token flow
// with the credentials), then file them in auth.json; logout removes them again.
import { BerthError, failedPrecondition } from "../../errors.js";
import { DEFAULT_DOMAIN } from "../../image/index.js";
import { removeCredentials, storeCredentials, type Credentials } from "./auth.js";
import { clientsFor, type RegistryOptions } from "./options.js";

/** A registry as `login` takes it: a host[:port], a URL, or docker.io's historical names. */
export function registryDomain(s: string | undefined): string {
  if (!s) return DEFAULT_DOMAIN;
  const host = s.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
  return ["index.docker.io", "registry-1.docker.io", "docker.io"].includes(host) ? DEFAULT_DOMAIN : host;
}

export async function login(registry: string | undefined, credentials: Credentials, authFile: string, opts: RegistryOptions = {}): Promise<string> {
  const domain = registryDomain(registry);
  const [client] = clientsFor(domain, "push", { ...opts, credentials });
  try {
    // /v2/ answers 401 with the challenge; the client answers it with the credentials
    const r = await client!.request({ path: "/v2/", what: `login ${domain}`, signal: opts.signal, ok: (s) => s === 200 || s === 401 });
    r.body.resume();
    if (r.status === 401) throw failedPrecondition(`login ${domain}: unauthorized: incorrect username or password`);
  } catch (e) {
    if (e instanceof BerthError && e.kind === "FailedPrecondition" && /unauthorized|authentication required/.test(e.message)) {
      throw failedPrecondition(`login ${domain}: unauthorized: incorrect username or password`);
    }
    throw e;
  } finally {
    client!.close();
  }
  storeCredentials(authFile, domain, credentials);
  return domain;
}

/** Removes the login; false when auth.json had none for it. */
export function logout(registry: string | undefined, authFile: string): { domain: string; removed: boolean } {
  const domain = registryDomain(registry);
  return { domain, removed: removeCredentials(authFile, domain) };
}
