// `-p [ip:]hostPort:containerPort[/tcp|udp]` (and ranges, `8000-8001:80-81`) as the portmap
// plugin's portMappings; and whether a host port is free before a container takes it.
import * as dgram from "node:dgram";
import * as net from "node:net";
import { conflict, invalidArgument } from "../errors.js";
import { parseIp } from "../network/index.js";
import type { PortMapping } from "./networks.js";

function range(s: string, spec: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw invalidArgument(`-p ${spec}: invalid port ${JSON.stringify(s)}: expected 1-65535 or a range such as 8000-8010`);
  return [lo, hi];
}

export function parsePublish(spec: string): PortMapping[] {
  const [body, proto = "tcp", ...extra] = spec.split("/");
  if (extra.length || (proto !== "tcp" && proto !== "udp")) throw invalidArgument(`-p ${spec}: the protocol must be tcp or udp`);
  const parts = body!.split(":");
  if (parts.length < 2 || parts.length > 3) throw invalidArgument(`-p ${spec}: expected [ip:]hostPort:containerPort[/tcp|udp]`);
  const hostIP = parts.length === 3 ? parts[0]! : "";
  if (hostIP !== "" && parseIp(hostIP) === undefined) throw invalidArgument(`-p ${spec}: invalid IP address ${JSON.stringify(hostIP)} (IPv4 only)`);
  const [hlo, hhi] = range(parts.at(-2)!, spec);
  const [clo, chi] = range(parts.at(-1)!, spec);
  if (hhi - hlo !== chi - clo) throw invalidArgument(`-p ${spec}: the host and container ranges differ in length`);
  return Array.from({ length: chi - clo + 1 }, (_, i) => ({ hostIP, hostPort: hlo + i, containerPort: clo + i, protocol: proto }));
}

/** Two mappings that would take the same host port. */
export function clash(a: PortMapping, b: PortMapping): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIP === "" || b.hostIP === "" || a.hostIP === b.hostIP);
}

/** Throws when something on the host listens on the mapping's port already. */
export async function checkPortFree(m: PortMapping): Promise<void> {
  const host = m.hostIP || "0.0.0.0";
  const taken = () => conflict(`Bind for ${host}:${m.hostPort} failed: port is already allocated`);
  await new Promise<void>((resolve, reject) => {
    if (m.protocol === "udp") {
      const s = dgram.createSocket("udp4");
      s.once("error", () => (s.close(), reject(taken())));
      s.bind(m.hostPort, host, () => s.close(() => resolve()));
    } else {
      const s = net.createServer();
      s.once("error", () => reject(taken()));
      s.listen({ port: m.hostPort, host, exclusive: true }, () => s.close(() => resolve()));
    }
  });
}

/**
 * A host port for `-P`: the first free one from a random place in Docker's range
 * (32768-60999), not in `taken` and not bound on the host; bounded tries.
 */
export async function freeHostPort(hostIP: string, protocol: "tcp" | "udp", taken: PortMapping[]): Promise<number> {
  const [lo, hi] = [32768, 60999];
  const start = lo + Math.floor(Math.random() * (hi - lo + 1));
  for (let i = 0; i < 500; i++) {
    const hostPort = lo + ((start - lo + i) % (hi - lo + 1));
    const m: PortMapping = { hostIP, hostPort, containerPort: 0, protocol };
    if (taken.some((t) => clash(t, m))) continue;
    try {
      await checkPortFree(m);
      return hostPort;
    } catch {
      // bound: the next one
    }
  }
  throw conflict(`-P: no free host port found for ${protocol} in ${lo}-${hi}`);
}
