// create: a container record, its writable snapshot and its volumes; nothing runs yet.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { BerthError, notFound } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import { parseOptions, type ContainerOptions } from "../options.js";
import { containerArgs } from "../spec.js";
import { checkImageHasSystemd, SYSTEMD_STOP_SIGNAL, systemdOn } from "../systemd.js";
import { ensureVolume, removeVolume } from "../volumes.js";
import { randomName } from "./names.js";
import { lookup } from "./lookup.js";
import { checkSlirp, SLIRP_NETWORK } from "../slirp.js";
import { isRootless } from "../../sys/index.js";
import { checkIp, checkPorts, getNetwork, publishExposed } from "../networks.js";
import { joinPodConfig } from "../pods/join.js";

export async function create(ctx: EngineContext, options: ContainerOptions): Promise<ContainerRow> {
  const h = parseOptions(options);
  let image;
  try {
    image = ctx.images.resolve(h.image);
  } catch (e) {
    if (e instanceof BerthError && e.kind === "NotFound") throw notFound(`Unable to find image '${h.image}' locally`, "berth bootstrap busybox, berth load or berth import make images here");
    throw e;
  }
  const args = containerArgs(h, image.config); // no command at all is refused before anything is made
  // systemd as PID 1 halts on SIGRTMIN+3 (unless --stop-signal or the image's StopSignal say otherwise)
  if (systemdOn(h, args) && !h.stopSignal && !image.config.config?.StopSignal) h.stopSignal = SYSTEMD_STOP_SIGNAL;
  if (h.network.startsWith("container:")) h.network = `container:${lookup(ctx, h.network.slice("container:".length)).id}`; // a missing one is refused
  else if (h.network === SLIRP_NETWORK && isRootless()) checkSlirp();
  else if (h.network !== "none" && h.network !== "host") h.network = getNetwork(ctx, h.network).name; // an unknown one is refused
  if (h.pod !== undefined) joinPodConfig(ctx, h); // a missing pod is refused
  if (h.ip !== undefined) checkIp(ctx, h.network, h.ip);
  for (const n of h.extraNetworks ?? []) n.name = getNetwork(ctx, n.name).name;
  if (h.extraNetworks) h.extraNetworks = h.extraNetworks.filter((n, i, all) => n.name !== h.network && all.findIndex((m) => m.name === n.name) === i); // bridge and berth are one
  if (h.publishAll) h.ports = await publishExposed(ctx, image.config.config?.ExposedPorts, h.publishAllHostIp ?? "", h.ports ?? []);
  await checkPorts(ctx, h.ports ?? []); // a port already taken is refused before anything is made
  const id = randomBytes(32).toString("hex");
  const row: ContainerRow = {
    id,
    name: h.name ?? randomName(),
    image: h.image,
    imageId: image.id,
    created: new Date().toISOString(),
    config: "",
    state: "created",
    pid: 0,
    monitorPid: 0,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
  };
  // anonymous volumes (-v /data, and the image's VOLUMEs not covered by -v) get names now
  for (const dest of Object.keys(image.config.config?.Volumes ?? {})) {
    if (!h.binds.some((b) => b.destination === dest)) h.binds.push({ kind: "volume", source: "", destination: dest, readonly: false, anonymous: true });
  }
  for (const b of h.binds) if (b.kind === "volume" && b.anonymous) b.source = randomBytes(32).toString("hex");
  row.config = JSON.stringify(h);
  for (let tries = 0; ; tries++) {
    try {
      ctx.db.insertContainer(row);
      break;
    } catch (e) {
      // a random name that is taken: pick another; a name the user chose is their conflict
      if (h.name !== undefined || tries > 20 || !(e instanceof BerthError && e.kind === "AlreadyExists")) throw e;
      row.name = randomName() + `_${tries}`;
    }
  }
  const made: string[] = [];
  try {
    ctx.images.snapshots.prepare(id, image.chain.at(-1), { image: image.id, container: id });
    if (h.systemd === "always") checkImageHasSystemd(ctx.images.snapshots.lowerDirs(id), h.image);
    for (const b of h.binds) {
      if (b.kind !== "volume") continue;
      if (ensureVolume(ctx, b.source, { anonymous: b.anonymous ?? false })) made.push(b.source);
    }
    fs.mkdirSync(ctx.paths(id).dataDir, { recursive: true, mode: 0o700 });
    return row;
  } catch (e) {
    ctx.db.deleteContainer(id);
    try {
      ctx.images.snapshots.removeActive(id);
    } catch {
      // never made
    }
    for (const v of made) removeVolume(ctx, v, { force: true });
    throw e;
  }
}
