// Entry point of the warm service: `node berth-warm.mjs SOCKET`. Started by the C
// front-end (native/build/berth-oci) on first use; exits after BERTH_WARM_IDLE_MS (60 s).
import { main as ociMain } from "../cli/berth-oci/main.js";
import { serve } from "./server.js";

const socket = process.argv[2];
if (!socket) {
  process.stderr.write("usage: berth-warm SOCKET\n");
  process.exit(2);
}
await serve({
  socket,
  idleMs: Number(process.env.BERTH_WARM_IDLE_MS ?? 60_000),
  handler: (req, io) => ociMain(req.argv, { stdout: io.stdout, stderr: io.stderr, cwd: req.cwd, env: req.env, launcher: io.launcher }),
});
