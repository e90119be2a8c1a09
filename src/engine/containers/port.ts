// port: a container's published ports (`-p`), as the portmap plugin was given them.
import type { EngineContext } from "../context.js";
import { containerAttachments, type PortMapping } from "../networks.js";
import type { HostConfig } from "../options.js";
import { lookup } from "./lookup.js";

/** The running container's mappings; a stopped one's are those it will get. */
export function ports(ctx: EngineContext, ref: string): PortMapping[] {
  const row = lookup(ctx, ref);
  const live = containerAttachments(ctx, row.id).flatMap((a) => a.portMappings);
  return live.length ? live : ((JSON.parse(row.config) as HostConfig).ports ?? []);
}
