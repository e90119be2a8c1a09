// What each per-controller file (v1/memory.ts, v2/io.ts, ...) provides to its driver.
import { invalidArgument } from "../errors.js";
import type { LinuxResources } from "../oci/runtime-spec.js";
import { int, type CgroupFiles } from "./files.js";

export interface Controller {
  /** The v1 hierarchy, or the v2 controller listed in cgroup.controllers ("" for core files). */
  readonly name: string;
  /**
   * The first setting of `r` this controller would write (as named in config.json), or
   * undefined when there is nothing to do. Throws invalidArgument for values no kernel accepts,
   * so apply() fails before it writes anything.
   */
  requested(r: LinuxResources): string | undefined;
  apply(dir: string, r: LinuxResources, files: CgroupFiles): void;
}

export const RES = "linux.resources";

/** hugepageLimits for both drivers: page sizes are names like "2MB", "1GB", "64KB", as in the kernel's file names. */
export function requestedHugepages(r: LinuxResources): string | undefined {
  const S = `${RES}.hugepageLimits`;
  if (!r.hugepageLimits?.length) return undefined;
  for (const h of r.hugepageLimits) {
    if (!/^[0-9]+[KMG]B$/.test(h.pageSize)) {
      throw invalidArgument(`${S}: page size ${JSON.stringify(h.pageSize)} is not a size such as 2MB or 1GB`);
    }
    int(S, h.limit);
  }
  return S;
}
