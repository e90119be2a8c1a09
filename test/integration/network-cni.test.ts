// The CNI runtime against Debian's real plugins: bridge + host-local + loopback ADD, CHECK and
// DEL on a namespace the test made, and the host's links, namespaces, rules and IPAM store
// back as they were afterwards. Traffic only inside that namespace and the test's bridge.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CniRuntime, createNetns, deleteNetns, parseConfList, type NetConfList } from "../../src/network/index.js";
import { rootSkip } from "../helpers/oci.js";
import { added, firewallRules, freeSubnet, links, netnses, run } from "../helpers/net.js";

describe("CNI runtime with Debian's plugins", { skip: rootSkip || (existsSync("/usr/lib/cni/bridge") ? false : "needs containernetworking-plugins") }, () => {
  const tag = `bt${process.pid % 100000}`;
  const ns = `berth-test-${tag}`;
  const bridge = `${tag}br`;
  let dir: string;
  let list: NetConfList;
  let before_: { links: string[]; netns: string[]; rules: string[] };
  const cni = () => new CniRuntime(["/usr/lib/cni", "/opt/cni/bin"], path.join(dir, "cache"));

  before(() => {
    before_ = { links: links(), netns: netnses(), rules: firewallRules() };
    dir = mkdtempSync(path.join(tmpdir(), "berth-cni-"));
    const subnet = freeSubnet(process.pid % 97);
    list = parseConfList(
      JSON.stringify({
        cniVersion: "1.0.0",
        name: `t-${tag}`,
        plugins: [
          { type: "bridge", bridge, isGateway: false, ipMasq: false, ipam: { type: "host-local", dataDir: path.join(dir, "ipam"), ranges: [[{ subnet }]] } },
          { type: "loopback" },
        ],
      }),
    );
  });
  after(async () => {
    await cni().del(list.name, tag, "eth0").catch(() => undefined);
    deleteNetns(ns);
    if (links().includes(bridge)) run("ip", ["link", "delete", bridge]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("VERSION lists 1.0.0", async () => {
    assert.ok((await cni().versions("bridge")).includes("1.0.0"));
  });

  test("ADD, CHECK, DEL on a named netns; the host is as before afterwards", async () => {
    const netns = createNetns(ns);
    assert.ok(netnses().includes(ns), "ip netns sees it");
    const result = await cni().add(list, { containerId: tag, netns, ifName: "eth0", args: { K8S_POD_NAME: "x" } });
    const address = result.ips?.[0]?.address;
    assert.match(address ?? "", /^10\.\d+\.\d+\.\d+\/24$/, JSON.stringify(result));
    const inside = run("ip", ["netns", "exec", ns, "ip", "-o", "addr"]).stdout;
    assert.match(inside, new RegExp(`eth0\\s+inet ${address!.replace(/\./g, "\\.")}`));
    assert.match(run("ip", ["netns", "exec", ns, "ip", "link", "show", "lo"]).stdout, /UP/);
    assert.ok(links().includes(bridge));
    assert.ok(readdirSync(path.join(dir, "ipam", list.name)).includes(address!.split("/")[0]!), "host-local recorded the address");
    // the cache holds what DEL needs
    const cached = cni().cached(list.name, tag, "eth0");
    assert.deepEqual(cached?.result?.ips, result.ips);
    await cni().check(list.name, tag, "eth0");
    // a second runtime object (as after a crash) deletes from the cache alone
    await cni().del(list.name, tag, "eth0");
    assert.equal(cni().cached(list.name, tag, "eth0"), undefined);
    assert.doesNotMatch(run("ip", ["netns", "exec", ns, "ip", "-o", "link"]).stdout, /eth0/);
    assert.deepEqual(readdirSync(path.join(dir, "ipam", list.name)).filter((f) => /^\d/.test(f)), [], "address released");
    await cni().del(list.name, tag, "eth0"); // idempotent
    deleteNetns(ns);
    run("ip", ["link", "delete", bridge]);
    assert.deepEqual(added(links(), before_.links), [], "links left");
    assert.deepEqual(added(netnses(), before_.netns), [], "netns left");
    assert.deepEqual(added(firewallRules(), before_.rules), [], "rules left");
  });

  test("a plugin's error result is one line naming the plugin; a missing plugin is refused before anything runs", async () => {
    const bad = parseConfList(JSON.stringify({ cniVersion: "1.0.0", name: `b-${tag}`, plugins: [{ type: "bridge", bridge, ipam: { type: "host-local", dataDir: path.join(dir, "ipam"), ranges: [[{ subnet: "not-a-subnet" }]] } }] }));
    await assert.rejects(cni().add(bad, { containerId: tag + "b", netns: "/nonexistent/netns", ifName: "eth0" }), (e: Error) => {
      assert.match(e.message, /^CNI plugin bridge \(ADD\): /);
      assert.equal(e.message.split("\n").length, 1);
      return true;
    });
    assert.deepEqual(cni().cachedFor(tag + "b"), [], "a failed ADD is undone");
    const missing = parseConfList(JSON.stringify({ cniVersion: "1.0.0", name: `m-${tag}`, plugins: [{ type: "loopback" }, { type: "no-such-plugin" }] }));
    await assert.rejects(cni().add(missing, { containerId: tag + "m", netns: "/nonexistent", ifName: "eth0" }), /CNI plugin no-such-plugin not found in \/usr\/lib\/cni:\/opt\/cni\/bin/);
    assert.deepEqual(cni().cachedFor(tag + "m"), []);
  });
});
