// The .conflist of a berth bridge network: bridge (with host-local IPAM), portmap, firewall,
// loopback (chained: it passes the bridge's result on). The IPAM store lives under berth's root.
import type { NetConfList } from "./cni.js";

export interface BridgeNetwork {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  /** no NAT to the outside and no default route: the containers reach only each other */
  internal: boolean;
  /** host-local's store (dataDir) */
  ipamDir: string;
}

export const CNI_VERSION = "1.0.0";

export function bridgeConfList(n: BridgeNetwork): NetConfList {
  return {
    cniVersion: CNI_VERSION,
    name: n.name,
    plugins: [
      {
        type: "bridge",
        bridge: n.bridge,
        isGateway: true,
        ipMasq: !n.internal,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir: n.ipamDir,
          ranges: [[{ subnet: n.subnet, gateway: n.gateway }]],
          routes: n.internal ? [] : [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
      { type: "firewall", backend: "iptables" },
      { type: "loopback" },
    ],
  };
}
