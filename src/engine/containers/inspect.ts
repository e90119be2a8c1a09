// inspect: a container in Docker's inspect shape.
import type { EngineContext } from "../context.js";
import type { HostConfig } from "../options.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";
import { containerAttachments } from "../networks.js";

export function inspect(ctx: EngineContext, ref: string): Record<string, unknown> {
  const found = lookup(ctx, ref);
  const row = refresh(ctx, found) ?? found;
  const h = JSON.parse(row.config) as HostConfig;
  const p = ctx.paths(row.id);
  let image: ReturnType<typeof ctx.images.resolve> | undefined;
  try {
    image = ctx.images.resolve(row.imageId);
  } catch {
    // removed with --force since
  }
  const ic = image?.config.config ?? {};
  const entrypoint = h.entrypoint ?? ic.Entrypoint ?? [];
  const cmd = h.command.length ? h.command : h.entrypoint ? [] : (ic.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  return {
    Id: row.id,
    Created: row.created,
    Path: args[0] ?? "",
    Args: args.slice(1),
    State: {
      Status: row.state,
      Running: row.state === "running" || row.state === "paused",
      Paused: row.state === "paused",
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: row.state === "running" || row.state === "paused" ? row.pid : 0,
      ExitCode: row.exitCode ?? 0,
      Error: "",
      StartedAt: row.startedAt ?? "0001-01-01T00:00:00Z",
      FinishedAt: row.finishedAt ?? "0001-01-01T00:00:00Z",
    },
    Image: row.imageId,
    LogPath: p.log,
    Name: `/${row.name}`,
    Pod: h.pod ?? "",
    Driver: ctx.images.snapshots.kind,
    HostConfig: {
      Binds: h.binds.filter((b) => b.kind !== "tmpfs").map((b) => `${b.source}:${b.destination}${b.readonly ? ":ro" : ""}`),
      NetworkMode: h.network,
      AutoRemove: h.autoRemove,
      Init: h.init ?? null,
      Privileged: h.privileged,
      ReadonlyRootfs: h.readOnly,
      CapAdd: h.capAdd,
      CapDrop: h.capDrop,
      Memory: h.memory ?? 0,
      MemorySwap: h.memorySwap ?? 0,
      NanoCpus: h.cpuQuota !== undefined ? h.cpuQuota * 10_000 : 0,
      CpuShares: h.cpuShares ?? 0,
      CpusetCpus: h.cpusetCpus ?? "",
      PidsLimit: h.pidsLimit ?? 0,
      Tmpfs: Object.fromEntries(h.binds.filter((b) => b.kind === "tmpfs").map((b) => [b.destination, (b.options ?? []).join(",")])),
      LogConfig: { Type: "json-file", Config: { ...(h.logMaxSize ? { "max-size": String(h.logMaxSize) } : {}), "max-file": String(h.logMaxFile) } },
    },
    Mounts: h.binds.map((b) => ({
      Type: b.kind,
      ...(b.kind === "volume" ? { Name: b.source } : {}),
      Source: b.kind === "volume" ? ctx.volumeDir(b.source) : b.source,
      Destination: b.destination,
      RW: !b.readonly,
    })),
    Config: {
      Hostname: h.hostname ?? row.id.slice(0, 12),
      Tty: h.tty ?? false,
      OpenStdin: h.openStdin ?? false,
      User: h.user ?? ic.User ?? "",
      Env: [...(ic.Env ?? []), ...h.env],
      Cmd: cmd,
      Entrypoint: entrypoint.length ? entrypoint : null,
      Image: row.image,
      WorkingDir: h.workdir ?? ic.WorkingDir ?? "",
      Labels: h.labels,
      StopSignal: h.stopSignal ?? ic.StopSignal ?? "SIGTERM",
      ...(h.stopTimeout !== undefined ? { StopTimeout: h.stopTimeout } : {}),
    },
    NetworkSettings: networkSettings(ctx, row.id),
  };
}

/** Docker's NetworkSettings from the container's CNI attachments. */
function networkSettings(ctx: EngineContext, id: string): Record<string, unknown> {
  const atts = containerAttachments(ctx, id);
  const networks: Record<string, unknown> = {};
  const ports: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const a of atts) {
    const ip = a.result.ips?.[0];
    const iface = a.result.interfaces?.find((i) => i.sandbox && i.name === a.ifName);
    networks[a.network] = { IPAddress: ip?.address.split("/")[0] ?? "", IPPrefixLen: Number(ip?.address.split("/")[1] ?? 0), Gateway: ip?.gateway ?? "", MacAddress: iface?.mac ?? "" };
    for (const m of a.portMappings) (ports[`${m.containerPort}/${m.protocol}`] ??= []).push({ HostIp: m.hostIP, HostPort: String(m.hostPort) });
  }
  const first = Object.values(networks)[0] as { IPAddress?: string; Gateway?: string; MacAddress?: string } | undefined;
  return { SandboxKey: atts.length ? `/run/netns/${atts[0]!.netns}` : "", Ports: ports, IPAddress: first?.IPAddress ?? "", Gateway: first?.Gateway ?? "", MacAddress: first?.MacAddress ?? "", Networks: networks };
}
