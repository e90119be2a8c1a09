// Bundles each entry point into one file: Node loads one module instead of ~40, which
// takes ~60 ms off every berth-oci call (the Direct path) and the warm service's start.
import { build } from "esbuild";

const entries = {
  "berth-oci": "dist/src/cli/berth-oci/main.js",
  berth: "dist/src/cli/berth/main.js",
  "berth-warm": "dist/src/warm/main.js",
};
await Promise.all(
  Object.entries(entries).map(([name, entry]) =>
    build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      // same depth as dist/src/runtime/, so import.meta.url finds native/ the same way
      outfile: `dist/src/cli/${name}.mjs`,
      banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
      // a native addon: loaded from node_modules at run time, not bundled
      external: ["better-sqlite3"],
      logLevel: "warning",
    }),
  ),
);
