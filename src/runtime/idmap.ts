// User namespace id maps: checked here, written by the parent at the SETUP sync point.
import { writeFileSync } from "node:fs";
import { BerthError, invalidArgument } from "../errors.js";
import type { IdMapping } from "../oci/runtime-spec.js";

/** One line per mapping, as /proc/<pid>/uid_map wants. Overlaps are refused. */
export function mapText(maps: IdMapping[], field: string): string {
  if (maps.length === 0) throw invalidArgument(`${field}: a new user namespace needs at least one mapping`);
  if (maps.length > 340) throw invalidArgument(`${field}: at most 340 mappings are allowed`);
  for (const [i, m] of maps.entries()) {
    if (m.size <= 0) throw invalidArgument(`${field}[${i}].size: must be at least 1`);
    for (const [j, o] of maps.entries()) {
      if (j <= i) continue;
      const inside = m.containerID < o.containerID + o.size && o.containerID < m.containerID + m.size;
      const outside = m.hostID < o.hostID + o.size && o.hostID < m.hostID + m.size;
      if (inside) throw invalidArgument(`${field}[${j}]: container ids ${o.containerID}-${o.containerID + o.size - 1} overlap ${field}[${i}]`);
      if (outside) throw invalidArgument(`${field}[${j}]: host ids ${o.hostID}-${o.hostID + o.size - 1} overlap ${field}[${i}]`);
    }
  }
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
}

/** The container id that a host id has under these maps, if any. */
export function mappedId(maps: IdMapping[] | undefined, containerId: number): boolean {
  return (maps ?? []).some((m) => containerId >= m.containerID && containerId < m.containerID + m.size);
}

/**
 * Writes the maps of `pid`'s new user namespace. An unprivileged caller may only map its
 * own ids, and must deny setgroups(2) before it may write gid_map.
 */
export function writeIdMaps(pid: number, uidText: string, gidText: string, denySetgroups: boolean): void {
  const write = (file: string, text: string, what: string) => {
    try {
      writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint = code === "EPERM" && denySetgroups ? " (an unprivileged user may map only its own id)" : "";
      throw new BerthError("FailedPrecondition", `write ${what} of the user namespace: ${code === "EPERM" ? "operation not permitted" : (e as Error).message}${hint}`);
    }
  };
  if (denySetgroups) write("setgroups", "deny", "setgroups");
  write("uid_map", uidText, "uid map");
  write("gid_map", gidText, "gid map");
}
