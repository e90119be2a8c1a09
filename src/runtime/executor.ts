// Where the C plan executor lives: native/build/berth-runtime in the checkout or package.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { unavailable } from "../errors.js";

let cached: string | undefined;

export function executorPath(): string {
  if (cached) return cached;
  const fromEnv = process.env.BERTH_RUNTIME_BIN;
  // dist/src/runtime/executor.js -> native/build/berth-runtime
  const p = fromEnv || fileURLToPath(new URL("../../../native/build/berth-runtime", import.meta.url));
  if (!existsSync(p)) throw unavailable(`berth-runtime executor not found at ${p}`, "run ./scripts/setup to build it");
  cached = p;
  return p;
}
