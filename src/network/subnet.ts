// IPv4 subnets: parsing CIDRs, telling whether two overlap, and the host's own routes (a new
// network's subnet must not shadow a route the host already uses).
import * as fs from "node:fs";
import { invalidArgument } from "../errors.js";

export interface Subnet {
  /** the network address as a 32-bit number */
  base: number;
  prefix: number;
}

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `10.89.0.0/24`; the address must be the network's own (no host bits), as Docker requires. */
export function parseSubnet(cidr: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const ip = m ? parseIp(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 8 && prefix <= 30)) throw invalidArgument(`invalid subnet ${cidr}: expected an IPv4 CIDR like 10.89.0.0/24 (prefix 8 to 30)`);
  if ((ip & mask(prefix)) >>> 0 !== ip) throw invalidArgument(`invalid subnet ${cidr}: host bits are set (the network is ${formatIp((ip & mask(prefix)) >>> 0)}/${prefix})`);
  return { base: ip, prefix };
}

export function formatSubnet(s: Subnet): string {
  return `${formatIp(s.base)}/${s.prefix}`;
}

export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.prefix)) >>> 0) === s.base;
}

export function overlaps(a: Subnet, b: Subnet): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The subnets the host routes to (not the default route), from /proc/net/route; `exceptIface`'s left out (a macvlan/ipvlan network may share its parent's). */
export function hostRoutes(exceptIface?: string): Subnet[] {
  let text = "";
  try {
    text = fs.readFileSync("/proc/net/route", "utf8");
  } catch {
    return [];
  }
  const out: Subnet[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    if (exceptIface !== undefined && f[0] === exceptIface) continue;
    // little-endian hex on x86: bytes reversed
    const le = (h: string) => (parseInt(h.slice(6, 8) + h.slice(4, 6) + h.slice(2, 4) + h.slice(0, 2), 16) >>> 0);
    const dst = le(f[1]!);
    const m = le(f[7]!);
    if (m === 0) continue;
    const prefix = Math.clz32(~m >>> 0); // leading ones of the mask
    out.push({ base: dst, prefix });
  }
  return out;
}

/** The first address after the network's (the gateway by convention). */
export function firstHost(s: Subnet): number {
  return s.base + 1;
}
