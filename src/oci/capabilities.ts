// Linux capability names as the OCI runtime spec spells them (capabilities(7)),
// with their bit numbers from <linux/capability.h>.

import { invalidArgument } from "../errors.js";

export const CAPABILITIES: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** Why `name` is not a capability, with a suggestion when it is a near miss ("NET_ADMIN", "cap_kill"). */
export function unknownCapability(name: string): string {
  const upper = name.toUpperCase();
  const guess = upper.startsWith("CAP_") ? upper : "CAP_" + upper;
  const hint = guess !== name && Object.hasOwn(CAPABILITIES, guess) ? ` (did you mean "${guess}"?)` : "";
  return `unknown capability ${JSON.stringify(name)}${hint}`;
}

/**
 * The capability set `names` as a bit mask (bit n = capability number n), as capset(2) and
 * prctl(2) take it. `field` names the list in errors, e.g. "config.json: process.capabilities.bounding".
 */
export function capabilityMask(names: string[], field: string): bigint {
  let mask = 0n;
  names.forEach((name, i) => {
    if (!Object.hasOwn(CAPABILITIES, name)) throw invalidArgument(`${field}[${i}]: ${unknownCapability(name)}`);
    mask |= 1n << BigInt(CAPABILITIES[name]);
  });
  return mask;
}
