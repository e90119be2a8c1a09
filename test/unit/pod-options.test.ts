// A container in a pod, without running anything: the flags it refuses, and the OCI config
// that joins the pod's infra's namespaces by path.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseOptions, type ContainerOptions } from "../../src/engine/options.js";
import { containerSpec } from "../../src/engine/spec.js";
import type { ImageConfig } from "../../src/oci/index.js";

const image: ImageConfig = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: { Cmd: ["sh"] } };

test("--pod: the pod's network, so no network flags of its own", () => {
  const h = parseOptions({ image: "x", pod: "p1" });
  assert.equal(h.pod, "p1");
  assert.equal(h.network, "none"); // its own netns is never made: it joins the pod's
  for (const [o, flag] of [
    [{ network: "bridge" }, "--network"],
    [{ network: "none" }, "--network"],
    [{ extraNetworks: ["a"] }, "--network"],
    [{ publish: ["80:80"] }, "-p"],
    [{ publishAll: true }, "-P"],
    [{ ip: "10.0.0.2" }, "--ip"],
    [{ macAddress: "02:42:ac:11:00:02" }, "--mac-address"],
    [{ networkAliases: ["a"] }, "--network-alias"],
    [{ dns: ["1.1.1.1"] }, "--dns"],
    [{ addHosts: ["a:1.2.3.4"] }, "--add-host"],
  ] as [Omit<ContainerOptions, "image">, string][]) {
    assert.throws(() => parseOptions({ image: "x", pod: "p1", ...o }), { message: new RegExp(`^conflicting options: ${flag} and --pod p1 \\(a container in a pod uses the pod's network`) }, flag);
  }
});

test("a pod's namespaces are joined by path; its host name is the infra's", () => {
  const base = { id: "c".repeat(64), image, rootfs: "/nonexistent", etc: { hosts: "/h", hostname: "/hn", resolvConf: "/r" }, volumeDirs: {}, cgroupsPath: "/berth/c" };
  const namespaces = { network: "/run/netns/berth-aaaaaaaaaaaa", ipc: "/proc/42/ns/ipc", uts: "/proc/42/ns/uts", pid: "/proc/42/ns/pid" };
  const spec = containerSpec({ ...base, hostConfig: parseOptions({ image: "x", pod: "p1" }), netns: namespaces.network, namespaces });
  const paths = Object.fromEntries(spec.linux!.namespaces!.map((n) => [n.type, n.path]));
  assert.deepEqual(paths, { ...namespaces, mount: undefined });
  assert.equal(spec.hostname, undefined);
  // without uts and pid shared: its own of those, and its own host name
  const some = containerSpec({ ...base, hostConfig: parseOptions({ image: "x", pod: "p1" }), netns: namespaces.network, namespaces: { network: namespaces.network, ipc: namespaces.ipc } });
  assert.equal(some.hostname, "cccccccccccc");
  assert.equal(some.linux!.namespaces!.find((n) => n.type === "pid")!.path, undefined);
  assert.equal(some.linux!.namespaces!.find((n) => n.type === "uts")!.path, undefined);
});
