// macvlan and ipvlan networks (Docker's drivers of those names) through the CNI plugins of
// those names, on a parent link the test makes itself (a dummy, or a veth pair where the
// kernel has no dummy). Traffic only between the test's own containers on that network.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";
import { added, firewallRules, freeSubnet, links, netnses, run } from "../helpers/net.js";

const BERTH = process.env.BERTH_TEST_BIN ? path.resolve(REPO, process.env.BERTH_TEST_BIN) : path.join(REPO, "bin", "berth");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const plugins = ["macvlan", "ipvlan", "host-local"].every((p) => existsSync(`/usr/lib/cni/${p}`));

describe("berth macvlan and ipvlan networks", { skip: rootSkip || (plugins ? false : "needs containernetworking-plugins") }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const tag = `d${process.pid % 100000}`;
  const parent = `${tag}par`;
  const peer = `${tag}peer`;
  let ipvlanKernel = false;
  let host: { links: string[]; netns: string[]; rules: string[] };
  const berth = (args: string[]): Result => {
    const r = spawnSync(BERTH, ["--root", root, "--runroot", runroot, ...args], { encoding: "utf8", timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = (args: string[]) => {
    const r = berth(args);
    assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const fails125 = (args: string[], pattern: RegExp) => {
    const r = berth(args);
    assert.equal(r.code, 125, `berth ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
  };
  const ipamAllocations = () => {
    const d = path.join(root, "networks", "ipam");
    return existsSync(d) ? readdirSync(d, { recursive: true }).map(String).filter((f) => /(^|\/)\d+\.\d+\.\d+\.\d+$/.test(f)).sort() : [];
  };
  const dropLinks = () => {
    if (links().includes(parent)) run("ip", ["link", "delete", parent]);
    if (links().includes(peer)) run("ip", ["link", "delete", peer]);
  };

  before(() => {
    host = { links: links(), netns: netnses(), rules: firewallRules() };
    dir = mkdtempSync(path.join(tmpdir(), "berth-netd-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
    // the parent: a dummy link; a veth pair where the kernel has no dummy driver
    if (run("ip", ["link", "add", parent, "type", "dummy"]).code !== 0) {
      const r = run("ip", ["link", "add", parent, "type", "veth", "peer", "name", peer]);
      assert.equal(r.code, 0, r.stderr);
      run("ip", ["link", "set", peer, "up"]);
    }
    assert.equal(run("ip", ["link", "set", parent, "up"]).code, 0);
    // kernels built without CONFIG_IPVLAN (this machine's) cannot make an ipvlan link at all
    const probe = `${tag}ivp`;
    ipvlanKernel = run("ip", ["link", "add", probe, "link", parent, "type", "ipvlan", "mode", "l2"]).code === 0;
    if (ipvlanKernel) run("ip", ["link", "delete", probe]);
  });
  after(() => {
    for (const id of berth(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean)) berth(["rm", "-f", id]);
    for (const n of [`${tag}mv`, `${tag}iv`, `${tag}x`]) if (berth(["network", "inspect", n]).code === 0) berth(["network", "rm", n]);
    const def = berth(["network", "inspect", "berth"]);
    const bridge = def.code === 0 ? (JSON.parse(def.stdout)[0].Options["com.docker.network.bridge.name"] as string) : "";
    if (bridge && links().includes(bridge)) run("ip", ["link", "delete", bridge]);
    dropLinks();
    rmSync(dir, { recursive: true, force: true });
  });

  test("bad driver, missing or unknown parent, bad mode: one line, exit 125, nothing made", () => {
    const before = ok(["network", "ls", "-q"]);
    const sub = freeSubnet(process.pid + 5);
    fails125(["network", "create", "-d", "overlay", "--subnet", sub, `${tag}x`], /^berth: network driver "overlay": expected bridge, macvlan or ipvlan\n$/);
    fails125(["network", "create", "-d", "macvlan", "--subnet", sub, `${tag}x`], /^berth: network driver macvlan needs -o parent=INTERFACE \(a host interface\)\n$/);
    fails125(["network", "create", "-d", "ipvlan", "-o", `parent=${tag}nope`, "--subnet", sub, `${tag}x`], new RegExp(`^berth: -o parent=${tag}nope: no such host interface\n$`));
    fails125(["network", "create", "-d", "macvlan", "-o", `parent=${parent}`, "-o", "macvlan_mode=l2", "--subnet", sub, `${tag}x`], /^berth: -o macvlan_mode=l2: expected one of bridge, private, vepa, passthru\n$/);
    fails125(["network", "create", "-d", "macvlan", "-o", `parent=${parent}`, "-o", "mtu=9000", "--subnet", sub, `${tag}x`], /unknown option mtu/);
    assert.equal(ok(["network", "ls", "-q"]), before);
    assert.equal(existsSync(path.join(root, "networks", `${tag}x.conflist`)), false);
  });

  for (const [driver, modeKey, mode, seed] of [
    ["macvlan", "macvlan_mode", "bridge", 11],
    ["ipvlan", "ipvlan_mode", "l2", 23],
  ] as const) {
    test(`${driver}: two containers get eth0 from the plugin and ping each other; rm cleans up`, (t) => {
      const net = driver === "macvlan" ? `${tag}mv` : `${tag}iv`;
      const sub = freeSubnet(process.pid + seed);
      const ip = (n: number) => sub.replace(/0\/24$/, String(n));
      const linksBefore = links();
      const nsBefore = netnses();
      if (driver === "macvlan") {
        // the parent's own subnet (a host route through it) is the usual macvlan subnet: allowed;
        // a bridge network may not overlap that route
        assert.equal(run("ip", ["addr", "add", `${ip(254)}/24`, "dev", parent]).code, 0);
        fails125(["network", "create", "--subnet", sub, `${tag}x`], /it overlaps a host route/);
      }
      ok(["network", "create", "-d", driver, "-o", `parent=${parent}`, "-o", `${modeKey}=${mode}`, "--subnet", sub, net]);
      const n = JSON.parse(ok(["network", "inspect", net]))[0];
      assert.equal(n.Driver, driver);
      assert.deepEqual(n.Options, { parent, [modeKey]: mode });
      assert.deepEqual(n.IPAM.Config, [{ Subnet: sub, Gateway: ip(1) }]);
      assert.match(ok(["network", "ls"]), new RegExp(`^[0-9a-f]{12} +${net} +${driver} +${sub.replace(/\./g, "\\.")} +local$`, "m"));

      if (driver === "ipvlan" && !ipvlanKernel) {
        // no ipvlan in this kernel: the plugin's error is one line naming it, and nothing is left half-made
        const ps = ok(["ps", "-aq"]);
        fails125(["run", "--rm", "--network", net, "busybox", "true"], /^berth: CNI plugin ipvlan \(ADD\): failed to create ipvlan: /);
        assert.equal(ok(["ps", "-aq"]), ps);
        assert.deepEqual(ipamAllocations(), []);
        assert.deepEqual(added(netnses(), nsBefore), [], "netns left");
        ok(["network", "rm", net]);
        assert.deepEqual(added(links(), linksBefore), [], "links left");
        t.diagnostic("this kernel has no ipvlan (CONFIG_IPVLAN): containers on it were not run");
        return;
      }
      ok(["run", "-d", "--name", `${net}1`, "--network", net, "--ip", ip(10), "busybox", "sleep", "300"]);
      ok(["run", "-d", "--name", `${net}2`, "--network", net, "--ip", ip(11), "busybox", "sleep", "300"]);
      const eth0 = ok(["exec", `${net}1`, "ip", "-o", "-4", "addr", "show", "eth0"]);
      assert.match(eth0, new RegExp(`inet ${ip(10).replace(/\./g, "\\.")}/24`));
      // the plugin's link kind, seen from the host in the container's named netns
      const id1 = ok(["inspect", "--format", "{{.Id}}", `${net}1`]).trim();
      const details = run("ip", ["netns", "exec", `berth-${id1.slice(0, 12)}`, "ip", "-d", "link", "show", "eth0"]).stdout;
      assert.match(details, new RegExp(`${driver} mode ${mode}`));
      assert.match(ok(["exec", `${net}1`, "ping", "-c", "1", "-W", "2", ip(11)]), /1 packets received/);
      assert.match(ok(["exec", `${net}2`, "ping", "-c", "1", "-W", "2", ip(10)]), /1 packets received/);
      assert.deepEqual(ipamAllocations(), [`${net}/${ip(10)}`, `${net}/${ip(11)}`]);

      fails125(["network", "rm", net], /has active endpoints/);
      ok(["rm", "-f", `${net}1`, `${net}2`]);
      ok(["network", "rm", net]);
      assert.deepEqual(ipamAllocations(), []);
      assert.deepEqual(added(links(), linksBefore), [], "links left");
      assert.deepEqual(added(netnses(), nsBefore), [], "netns left");
      assert.ok(links().includes(parent), "the parent link is the host's: network rm leaves it");
      run("ip", ["addr", "flush", "dev", parent]);
    });
  }

  test("after everything is removed, links, netns, iptables rules and the IPAM store are as before", () => {
    for (const id of ok(["ps", "-aq"]).split("\n").filter(Boolean)) ok(["rm", "-f", id]);
    const def = JSON.parse(ok(["network", "inspect", "berth"]))[0].Options["com.docker.network.bridge.name"] as string;
    ok(["network", "prune"]);
    if (links().includes(def)) run("ip", ["link", "delete", def]);
    dropLinks();
    assert.deepEqual(ipamAllocations(), []);
    assert.deepEqual(added(links(), host.links), [], "links left");
    assert.deepEqual(added(netnses(), host.netns), [], "netns left");
    assert.deepEqual(added(firewallRules(), host.rules), [], "rules left");
  });
});
