// network disconnect: a container leaves a network; a running one loses that interface at once
// (CNI DEL), and its peers' /etc/hosts and its own forget each other.
import { notFound } from "../../errors.js";
import type { EngineContext } from "../context.js";
import { attachmentsChanged, cniRuntime, configNetworks, containerAttachments, getNetwork, networkName, serialised, updatePeerHosts } from "../networks.js";
import type { HostConfig } from "../options.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";

/** `force`: a DEL that fails is not an error (its cached attachment is forgotten). */
export async function disconnect(ctx: EngineContext, network: string, ref: string, force = false): Promise<void> {
  const row = refresh(ctx, lookup(ctx, ref)) ?? lookup(ctx, ref);
  const name = ctx.db.network(networkName(network)) ? networkName(network) : getNetwork(ctx, network).name;
  const h = JSON.parse(row.config) as HostConfig;
  const nets = configNetworks(row.config);
  if (!nets.includes(name)) throw notFound(`container ${row.name} is not connected to network ${name}`);
  const cni = cniRuntime(ctx);
  for (const a of containerAttachments(ctx, row.id).filter((a) => a.network === name)) {
    try {
      await serialised(() => cni.del(name, row.id, a.ifName));
    } catch (e) {
      if (!force) throw e;
      cni.forget(name, row.id, a.ifName);
    }
  }
  // its first network gone, the next one is first (a stopped container gets it as eth0); none left: none
  const rest = (h.extraNetworks ?? []).filter((n) => n.name !== name);
  const next: HostConfig =
    h.network !== name
      ? { ...h, extraNetworks: rest.length ? rest : undefined }
      : rest.length
        ? { ...h, network: rest[0]!.name, ip: rest[0]!.ip, networkAliases: rest[0]!.aliases, extraNetworks: rest.length > 1 ? rest.slice(1) : undefined }
        : { ...h, network: "none", ip: undefined, macAddress: undefined, networkAliases: undefined, ports: [], extraNetworks: undefined };
  ctx.db.updateContainer(row.id, { config: JSON.stringify(next) });
  await attachmentsChanged(ctx);
  await updatePeerHosts(ctx, [name, ...configNetworks(JSON.stringify(next))], [row.id]);
}
