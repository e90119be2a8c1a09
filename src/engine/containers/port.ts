// port: a container's published ports (`-p`), as the portmap plugin was given them; a pod's
// container has its pod's (`pod create -p`), as in Podman.
import type { EngineContext } from "../context.js";
import { containerAttachments, type PortMapping } from "../networks.js";
import type { HostConfig } from "../options.js";
import { lookupPod, podConfig } from "../pods/record.js";
import { lookup } from "./lookup.js";

/** The running container's (or its pod's) mappings; a stopped one's are those it will get. */
export function ports(ctx: EngineContext, ref: string): PortMapping[] {
  const row = lookup(ctx, ref);
  const h = JSON.parse(row.config) as HostConfig;
  // the pod's one CNI attachment is keyed by the pod's ID
  const owner = h.pod ?? row.id;
  const live = containerAttachments(ctx, owner).flatMap((a) => a.portMappings);
  if (live.length) return live;
  return h.pod !== undefined ? podConfig(lookupPod(ctx, h.pod)).ports : (h.ports ?? []);
}
