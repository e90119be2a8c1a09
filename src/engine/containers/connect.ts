// network connect: one more network for a container (eth1, eth2, …); a running one gets the
// interface at once through CNI ADD, a stopped one at its next start.
import { conflict, invalidArgument } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { attachContainer, checkIp, configNetworks, containerAttachments, getNetwork, updatePeerHosts } from "../networks.js";
import type { HostConfig } from "../options.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";

export interface ConnectOptions {
  /** `--ip`: its address on that network */
  ip?: string;
  /** `--alias`: more names its peers on that network know it by */
  aliases?: string[];
}

export async function connect(ctx: EngineContext, network: string, ref: string, o: ConnectOptions = {}): Promise<void> {
  const row = refresh(ctx, lookup(ctx, ref)) ?? lookup(ctx, ref);
  const n = getNetwork(ctx, network);
  const h = JSON.parse(row.config) as HostConfig;
  if (h.network === "none" || h.network === "host" || h.network.startsWith("container:")) throw invalidArgument(`container ${row.name} is on --network ${h.network}: it cannot be connected to a network`);
  if (configNetworks(row.config).includes(n.name)) throw conflict(`container ${row.name} is already connected to network ${n.name}`);
  if (o.ip !== undefined) checkIp(ctx, n.name, o.ip);
  for (const a of o.aliases ?? []) if (!/^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,252})$/.test(a)) throw invalidArgument(`--alias ${JSON.stringify(a)}: expected a host name`);
  const extra = { name: n.name, ...(o.ip ? { ip: o.ip } : {}), ...(o.aliases?.length ? { aliases: o.aliases } : {}) };
  const before = row.config;
  ctx.db.updateContainer(row.id, { config: JSON.stringify({ ...h, extraNetworks: [...(h.extraNetworks ?? []), extra] }) });
  if (row.state !== "running" && row.state !== "paused") return;
  // the next free ethN: interfaces of networks disconnected meanwhile leave gaps
  const used = new Set(containerAttachments(ctx, row.id).map((a) => a.ifName));
  let i = 1;
  while (used.has(`eth${i}`) && i < 1000) i++;
  try {
    await attachContainer(ctx, row.id, n.name, [], { ip: o.ip, ifName: `eth${i}` });
  } catch (e) {
    ctx.db.updateContainer(row.id, { config: before });
    throw e;
  }
  await updatePeerHosts(ctx, configNetworks(JSON.stringify({ ...h, extraNetworks: [...(h.extraNetworks ?? []), extra] })));
}
