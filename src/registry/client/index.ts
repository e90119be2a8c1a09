// The registry client (DESIGN.md, registry/client): pull, push and login over the OCI
// distribution API (and the Docker Registry HTTP API v2 it grew from).
export { pullImage, listTags, fetchManifest, MANIFEST_ACCEPT, type PullOptions, type PullResult } from "./pull.js";
export { pushImage, type PushOptions, type PushResult } from "./push.js";
export { login, logout, registryDomain } from "./login.js";
export { defaultAuthFile, dockerConfigFile, findCredentials, storeCredentials, removeCredentials, parseChallenge, mergeScopes, type Credentials, type Challenge } from "./auth.js";
export { loadRegistryConfig, endpointsFor, isLoopback, DEFAULT_CERTS_DIRS, type RegistryConfig, type Endpoint } from "./config.js";
export { RegistryClient, backoff, isTransient } from "./http.js";
export { clientsFor, type RegistryOptions } from "./options.js";
export { shortId, type PullEvent, type PullLayerStatus, type PushEvent, type PushLayerStatus } from "./events.js";
