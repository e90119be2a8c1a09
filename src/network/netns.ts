// Named network namespaces as `ip netns` keeps them (/run/netns/<name>, a bind mount of a
// namespace file): `ip netns exec <name> ip addr` works on a container's namespace, and the
// container joins it by path (linux.namespaces) before its program runs.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { BerthError } from "../errors.js";

export const NETNS_DIR = "/run/netns";

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

function ip(args: string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 30_000 });
  if (r.error) throw new BerthError("Unavailable", `ip ${args.join(" ")}: ${r.error.message}`, { hint: "apt-get install iproute2" });
  if (r.status !== 0) throw new BerthError("Internal", `ip ${args.join(" ")}: ${(r.stderr || "").trim().split("\n").at(-1)}`);
}

/** Makes the named namespace (with loopback down, as a fresh one is: the loopback plugin brings it up). */
export function createNetns(name: string): string {
  ip(["netns", "add", name]);
  return netnsPath(name);
}

/** Removes the named namespace if it is there. */
export function deleteNetns(name: string): void {
  if (!fs.existsSync(netnsPath(name))) return;
  try {
    ip(["netns", "delete", name]);
  } catch (e) {
    if (fs.existsSync(netnsPath(name))) throw e; // else: deleted by another berth meanwhile
  }
}
