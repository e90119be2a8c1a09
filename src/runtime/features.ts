// The runtime-spec "features" document: what this build of berth-oci supports.
import { CAPABILITIES } from "../oci/capabilities.js";
import { OCI_VERSION } from "../oci/runtime-spec.js";
import { MOUNT_OPTION_NAMES } from "./mounts.js";

export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks: string[];
  mountOptions: string[];
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
    seccomp: { enabled: boolean; actions?: string[]; operators?: string[]; archs?: string[]; knownFlags?: string[]; supportedFlags?: string[] };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
    intelRdt: { enabled: boolean };
    mountExtensions: { idmap: { enabled: boolean } };
  };
  annotations: Record<string, string>;
}

/** seccomp support is filled in by the seccomp compiler when it is present */
export interface SeccompFeatures {
  actions: string[];
  operators: string[];
  archs: string[];
  flags: string[];
}

export function features(version: string, seccomp?: SeccompFeatures): Features {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: OCI_VERSION,
    hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
    mountOptions: MOUNT_OPTION_NAMES,
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: seccomp
        ? { enabled: true, actions: seccomp.actions, operators: seccomp.operators, archs: seccomp.archs, knownFlags: seccomp.flags, supportedFlags: seccomp.flags }
        : { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { "io.github.berth.version": version, "io.github.berth.executor": "berth-runtime (C, libc only)" },
  };
}
