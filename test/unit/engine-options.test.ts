// The engine's flag checking and the config it derives, without running anything.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseChanges } from "../../src/image/changes.js";
import { parseBytes, parseOptions, parseVolume } from "../../src/engine/options.js";
import { containerArgs, containerSpec, mergeEnv, DOCKER_CAPABILITIES } from "../../src/engine/spec.js";
import type { ImageConfig } from "../../src/oci/index.js";

const image = (config: ImageConfig["config"] = {}): ImageConfig => ({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config });

test("sizes as Docker reads them", () => {
  assert.equal(parseBytes("64m", "--memory"), 64 * 1024 * 1024);
  assert.equal(parseBytes("1g", "--memory"), 1024 ** 3);
  assert.equal(parseBytes("512k", "--memory"), 512 * 1024);
  assert.equal(parseBytes("100", "--memory"), 100);
  assert.equal(parseBytes("1.5g", "--memory"), 1.5 * 1024 ** 3);
  assert.throws(() => parseBytes("10xb", "--memory"), { message: '--memory "10xb": expected a size such as 64m, 1g or a number of bytes' });
});

test("-v: binds, named and anonymous volumes, and what is refused", () => {
  assert.deepEqual(parseVolume("/host/dir:/data:ro"), { kind: "bind", source: "/host/dir", destination: "/data", readonly: true });
  assert.deepEqual(parseVolume("cache:/var/cache"), { kind: "volume", source: "cache", destination: "/var/cache", readonly: false });
  assert.deepEqual(parseVolume("/scratch"), { kind: "volume", source: "", destination: "/scratch", readonly: false, anonymous: true });
  assert.throws(() => parseVolume("./rel:/data"), /a host path must be absolute/);
  assert.throws(() => parseVolume("data"), /a container path must be absolute/);
  assert.throws(() => parseVolume("/a:rel"), /the container path must be absolute/);
  assert.throws(() => parseVolume("/a:/b:rx"), /mode "rx": expected ro or rw/);
  assert.throws(() => parseOptions({ image: "x", volumes: ["/a:/d", "v:/d"] }), /Duplicate mount point: \/d/);
});

test("options are checked before anything is made", () => {
  assert.throws(() => parseOptions({ image: "x", name: "bad name" }), /Invalid container name \(bad name\)/);
  assert.throws(() => parseOptions({ image: "x", memory: "1k" }), /--memory: the minimum is 6MB/);
  assert.throws(() => parseOptions({ image: "x", memory: "64m", memorySwap: "32m" }), /--memory-swap: must be at least --memory/);
  assert.throws(() => parseOptions({ image: "x", cpus: "0" }), /--cpus "0": expected a positive number/);
  assert.throws(() => parseOptions({ image: "x", capAdd: ["FLY"] }), /--cap-add FLY: not a capability/);
  assert.throws(() => parseOptions({ image: "x", stopSignal: "SIGNOPE" }), /--stop-signal SIGNOPE: not a signal/);
  assert.throws(() => parseOptions({ image: "x", ulimits: ["nofile=10:5"] }), /soft limit is above the hard limit/);
  assert.throws(() => parseOptions({ image: "x", workdir: "rel" }), /must be absolute/);
  const h = parseOptions({ image: "x", cpus: 1.5, memory: "64m", capAdd: ["net_admin"], logOpts: { "max-size": "1m", "max-file": "3" } });
  assert.equal(h.cpuQuota, 150_000);
  assert.deepEqual(h.capAdd, ["CAP_NET_ADMIN"]);
  assert.equal(h.logMaxSize, 1024 * 1024);
  assert.equal(h.logMaxFile, 3);
});

test("the command: Entrypoint + Cmd, arguments replace Cmd, --entrypoint replaces both", () => {
  const img = image({ Entrypoint: ["/init"], Cmd: ["serve"] });
  assert.deepEqual(containerArgs(parseOptions({ image: "x" }), img), ["/init", "serve"]);
  assert.deepEqual(containerArgs(parseOptions({ image: "x", command: ["debug"] }), img), ["/init", "debug"]);
  assert.deepEqual(containerArgs(parseOptions({ image: "x", entrypoint: ["sh"] }), img), ["sh"]);
  assert.deepEqual(containerArgs(parseOptions({ image: "x", entrypoint: ["sh"], command: ["-c", "true"] }), img), ["sh", "-c", "true"]);
  assert.throws(() => containerArgs(parseOptions({ image: "x" }), image({})), /no command specified/);
  assert.deepEqual(mergeEnv(["PATH=/bin", "A=1"], ["A=2", "B=3"]), ["PATH=/bin", "A=2", "B=3"]);
});

test("the OCI config: Docker's capabilities, seccomp, resources, mounts; --privileged lifts them", () => {
  const base = { id: "c".repeat(64), image: image({ Cmd: ["sh"], Env: ["X=1"], WorkingDir: "/srv" }), rootfs: "/nonexistent", etc: { hosts: "/h", hostname: "/hn", resolvConf: "/r" }, volumeDirs: { "/v": "/vol/_data" }, cgroupsPath: "/berth/c" };
  const spec = containerSpec({ ...base, hostConfig: parseOptions({ image: "x", memory: "64m", pidsLimit: 10, volumes: ["vol:/v:ro"], env: ["Y=2"] }) });
  assert.deepEqual(spec.process!.capabilities!.bounding, DOCKER_CAPABILITIES);
  assert.equal(spec.process!.cwd, "/srv");
  assert.ok(spec.process!.env!.includes("X=1") && spec.process!.env!.includes("Y=2"));
  assert.equal(spec.hostname, "cccccccccccc");
  assert.equal(spec.linux!.resources!.memory!.limit, 64 * 1024 * 1024);
  assert.equal(spec.linux!.resources!.memory!.swap, 128 * 1024 * 1024);
  assert.deepEqual(spec.linux!.resources!.pids, { limit: 10 });
  assert.equal(spec.linux!.seccomp!.defaultAction, "SCMP_ACT_ERRNO");
  assert.ok(spec.linux!.maskedPaths!.includes("/proc/kcore"));
  assert.deepEqual(spec.mounts!.find((m) => m.destination === "/v"), { destination: "/v", type: "bind", source: "/vol/_data", options: ["rbind", "rprivate", "ro"] });
  const priv = containerSpec({ ...base, hostConfig: parseOptions({ image: "x", privileged: true }) });
  assert.equal(priv.linux!.seccomp, undefined);
  assert.deepEqual(priv.linux!.maskedPaths, []);
  assert.ok(priv.process!.capabilities!.bounding!.includes("CAP_SYS_ADMIN"));
  const host = containerSpec({ ...base, hostConfig: parseOptions({ image: "x", network: "host" }) });
  assert.equal(host.linux!.namespaces!.some((n) => n.type === "network"), false);
});

test("--change instructions for import", () => {
  const c = parseChanges(['CMD ["/bin/app", "-v"]', "ENTRYPOINT /init", "ENV A=1 B=\"two words\"", "ENV A=3", "EXPOSE 80 53/udp", "LABEL k=v", "WORKDIR /srv", "WORKDIR sub", "USER nobody", "VOLUME /data", "STOPSIGNAL SIGINT"]);
  assert.deepEqual(c.Cmd, ["/bin/app", "-v"]);
  assert.deepEqual(c.Entrypoint, ["/bin/sh", "-c", "/init"]);
  assert.deepEqual(c.Env, ["A=3", "B=two words"]);
  assert.deepEqual(c.ExposedPorts, { "80/tcp": {}, "53/udp": {} });
  assert.deepEqual(c.Labels, { k: "v" });
  assert.equal(c.WorkingDir, "/srv/sub");
  assert.equal(c.User, "nobody");
  assert.deepEqual(c.Volumes, { "/data": {} });
  assert.equal(c.StopSignal, "SIGINT");
  assert.throws(() => parseChanges(["RUN make"]), /--change RUN: not an instruction --change takes/);
  assert.throws(() => parseChanges(["EXPOSE http"]), /--change EXPOSE http: expected PORT/);
  assert.throws(() => parseChanges(["CMD"]), /--change CMD: needs an argument/);
});
