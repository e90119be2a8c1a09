// berth as a library: `import { ... } from "berth"`. The engine (issue 5) will add `Engine`;
// today the OCI runtime's verbs and the image store are available in-process.
export * as runtime from "./runtime/index.js";
export * as oci from "./oci/index.js";
export * as image from "./image/index.js";
export { cgroupManager, detectCgroupMode } from "./cgroups/index.js";
export type { CgroupManager, CgroupMode } from "./cgroups/index.js";
export { BerthError, type ErrorKind } from "./errors.js";
