// What pull, push, login and logout share: where credentials and the registries file are.
//   credentials: --authfile, else $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
//                else /run/containers/<uid>/auth.json; ~/.docker/config.json is read too
//   registries:  <root>/registries.json (insecure registries, mirrors)
import path from "node:path";
import { defaultAuthFile, dockerConfigFile, type RegistryOptions } from "../../registry/client/index.js";
import { type CommandEnv, dataRoot, userPath } from "./globals.js";

export interface AuthFlags {
  authfile?: string;
}

export function authFile(env: CommandEnv, f: AuthFlags): string {
  return f.authfile ? userPath(env, f.authfile) : defaultAuthFile(env.cli.env);
}

export function registryOptions(env: CommandEnv, f: AuthFlags): RegistryOptions {
  return {
    authFiles: [authFile(env, f), dockerConfigFile(env.cli.env)],
    registries: path.join(dataRoot(env), "registries.json"),
  };
}
