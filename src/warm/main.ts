// Entry point of the warm service: `node berth-warm.mjs SOCKET`. Started by a C front-end
// (native/build/berth-oci or native/build/berth) on first use; exits after
// BERTH_WARM_IDLE_MS (60 s) without a request.
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { main as ociMain } from "../cli/berth-oci/main.js";
import { serveBerth } from "./berth.js";
import { serve } from "./server.js";

const socket = process.argv[2];
if (!socket) {
  process.stderr.write("usage: berth-warm SOCKET\n");
  process.exit(2);
}
// a rebuilt service (this bundle) must not be answered by the old one for long
const code = fileURLToPath(import.meta.url);
const builtAt = statSync(code).mtimeMs;
// the exit command a container's monitor runs (`berth container cleanup`) comes back here
process.env.BERTH_WARM_SOCKET = socket;
// every request brings its own cwd; ours must keep no directory busy (the first caller's)
process.chdir("/");
// one request's stray promise must not take the others down with the service
process.on("unhandledRejection", () => undefined);
await serve({
  socket,
  idleMs: Number(process.env.BERTH_WARM_IDLE_MS ?? 60_000),
  handler: (req, io) => ociMain(req.argv, { stdout: io.stdout, stderr: io.stderr, cwd: req.cwd, env: req.env, launcher: io.launcher }),
  berth: serveBerth,
  stale: () => statSync(code, { throwIfNoEntry: false })?.mtimeMs !== builtAt,
  build: { code, mtimeMs: builtAt },
});
