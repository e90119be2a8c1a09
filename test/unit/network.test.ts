// The CNI runtime's pure parts: conflist parsing, the per-plugin config (prevResult,
// runtimeConfig by capability), old result formats, error lines; subnet arithmetic.
import assert from "node:assert/strict";
import { test } from "node:test";
import { containerRulesRemoval, emptyChainRemoval, isolationChanges, parseSave, bridgeConfList, errorLine, formatSubnet, overlaps, parseConfList, parseResult, parseSubnet, pluginConfig } from "../../src/network/index.js";
import { clash, parsePublish } from "../../src/engine/ports.js";
import { parseOptions } from "../../src/engine/options.js";

test("parseConfList: a list, a single .conf, and bad input named", () => {
  const l = parseConfList('{"cniVersion":"1.0.0","name":"n1","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}');
  assert.equal(l.plugins.length, 2);
  const one = parseConfList('{"cniVersion":"0.4.0","name":"n2","type":"bridge","bridge":"b0"}');
  assert.deepEqual(one, { cniVersion: "0.4.0", name: "n2", plugins: [{ type: "bridge", bridge: "b0" }] });
  assert.throws(() => parseConfList("{", "x.conflist"), /^BerthError: x\.conflist: not JSON/);
  assert.throws(() => parseConfList('{"cniVersion":"1.0.0","name":"n","plugins":[]}'), /"plugins" must be a non-empty list/);
  assert.throws(() => parseConfList('{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../x"}]}'), /plugins\[0\] needs a "type"/);
  assert.throws(() => parseConfList('{"cniVersion":"one","name":"n","plugins":[{"type":"x"}]}'), /cniVersion/);
});

test("pluginConfig: name and version from the list, prevResult, runtimeConfig only for declared capabilities", () => {
  const l = parseConfList('{"cniVersion":"1.0.0","name":"n1","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}');
  const prev = { cniVersion: "1.0.0", ips: [{ address: "10.1.0.2/24" }] };
  const caps = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }], bandwidth: {} };
  assert.deepEqual(pluginConfig(l, l.plugins[0]!, undefined, caps), { type: "bridge", cniVersion: "1.0.0", name: "n1" });
  assert.deepEqual(pluginConfig(l, l.plugins[1]!, prev, caps), {
    type: "portmap",
    capabilities: { portMappings: true },
    cniVersion: "1.0.0",
    name: "n1",
    runtimeConfig: { portMappings: caps.portMappings },
    prevResult: prev,
  });
});

test("parseResult: 1.0 results as they are; 0.2 ip4/ip6 become ips", () => {
  assert.deepEqual(parseResult('{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.2/24"}]}', "x").ips, [{ address: "10.1.0.2/24" }]);
  assert.deepEqual(parseResult('{"cniVersion":"0.2.0","ip4":{"ip":"10.1.0.2/24","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0"}]}}', "x"), {
    cniVersion: "0.2.0",
    ips: [{ address: "10.1.0.2/24", gateway: "10.1.0.1" }],
    routes: [{ dst: "0.0.0.0/0" }],
  });
  assert.throws(() => parseResult("oops", "bridge"), /CNI plugin bridge: result is not JSON/);
});

test("errorLine: the spec's error object, or stderr, as one line naming the plugin", () => {
  assert.equal(errorLine("bridge", "ADD", '{"cniVersion":"1.0.0","code":7,"msg":"invalid config","details":"no\\nsubnet"}', "", 1), "CNI plugin bridge (ADD): invalid config: no subnet (code 7)");
  assert.equal(errorLine("x", "DEL", "", "warning\nboom\n", 2), "CNI plugin x (DEL): boom");
  assert.equal(errorLine("x", "DEL", "", "", 2), "CNI plugin x (DEL): exit status 2");
});

test("subnets: parsing, host bits refused, overlap both ways", () => {
  assert.equal(formatSubnet(parseSubnet("10.88.0.0/16")), "10.88.0.0/16");
  assert.throws(() => parseSubnet("10.88.0.1/16"), /host bits are set \(the network is 10\.88\.0\.0\/16\)/);
  assert.throws(() => parseSubnet("10.88.0.0"), /invalid subnet 10\.88\.0\.0: expected an IPv4 CIDR/);
  assert.throws(() => parseSubnet("300.1.0.0/16"), /invalid subnet/);
  assert.ok(overlaps(parseSubnet("10.88.0.0/16"), parseSubnet("10.88.5.0/24")));
  assert.ok(overlaps(parseSubnet("10.88.5.0/24"), parseSubnet("10.88.0.0/16")));
  assert.ok(!overlaps(parseSubnet("10.88.0.0/16"), parseSubnet("10.89.0.0/16")));
});

test("bridgeConfList: bridge with host-local under berth's root, then portmap and firewall, then loopback; --internal has no NAT nor default route", () => {
  const l = bridgeConfList({ name: "n", bridge: "br-x", subnet: "10.89.0.0/24", gateway: "10.89.0.1", internal: true, ipamDir: "/r/ipam" });
  assert.deepEqual(l.plugins.map((p) => p.type), ["bridge", "portmap", "firewall", "loopback"]);
  assert.equal(l.plugins[0]!.ipMasq, false);
  assert.deepEqual((l.plugins[0]!.ipam as { routes: unknown[] }).routes, []);
  assert.equal((l.plugins[0]!.ipam as { dataDir: string }).dataDir, "/r/ipam");
});

test("parsePublish: [ip:]host:container[/proto], ranges, and bad input named", () => {
  assert.deepEqual(parsePublish("127.0.0.1:18080:80"), [{ hostIP: "127.0.0.1", hostPort: 18080, containerPort: 80, protocol: "tcp" }]);
  assert.deepEqual(parsePublish("8053:53/udp"), [{ hostIP: "", hostPort: 8053, containerPort: 53, protocol: "udp" }]);
  assert.deepEqual(parsePublish("8000-8001:80-81").map((p) => [p.hostPort, p.containerPort]), [[8000, 80], [8001, 81]]);
  assert.throws(() => parsePublish("80"), /-p 80: expected \[ip:\]hostPort:containerPort/);
  assert.throws(() => parsePublish("8080:80/sctp"), /the protocol must be tcp or udp/);
  assert.throws(() => parsePublish("0:80"), /invalid port "0"/);
  assert.throws(() => parsePublish("8000-8002:80-81"), /ranges differ in length/);
  assert.throws(() => parsePublish("localhost:8080:80"), /invalid IP address "localhost"/);
  assert.ok(clash(parsePublish("8080:80")[0]!, parsePublish("127.0.0.1:8080:81")[0]!), "all addresses clash with one");
  assert.ok(!clash(parsePublish("8080:80")[0]!, parsePublish("8080:80/udp")[0]!));
});

test("parseOptions: -p without --network joins the default network; with none it is refused", () => {
  assert.equal(parseOptions({ image: "x", publish: ["8080:80"] }).network, "bridge");
  assert.equal(parseOptions({ image: "x" }).network, process.geteuid?.() === 0 ? "bridge" : "none", "Docker's default as root; none unprivileged");
  assert.throws(() => parseOptions({ image: "x", publish: ["8080:80"], network: "host" }), /published ports need a network, not --network host/);
  assert.throws(() => parseOptions({ image: "x", publish: ["8080:80", "127.0.0.1:8080:81"], network: "n" }), /host port 8080\/tcp is published twice/);
});

test("emptyChainRemoval: the plugins' shared chains go when only their plumbing is left, with the jumps to them; a chain with rules stays", () => {
  const rs = parseSave(`*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:CNI-ADMIN - [0:0]
:CNI-FORWARD - [0:0]
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
COMMIT
*nat
:POSTROUTING ACCEPT [0:0]
:CNI-HOSTPORT-MASQ - [0:0]
:CNI-HOSTPORT-SETMARK - [0:0]
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
COMMIT
`);
  assert.deepEqual(emptyChainRemoval(rs).get("filter"), [
    '-D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD',
    ":CNI-FORWARD - [0:0]",
    "-X CNI-FORWARD",
    ":CNI-ADMIN - [0:0]",
    "-X CNI-ADMIN",
  ]);
  assert.deepEqual(emptyChainRemoval(rs).get("nat"), [
    ":CNI-HOSTPORT-SETMARK - [0:0]",
    "-X CNI-HOSTPORT-SETMARK",
    '-D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
    ":CNI-HOSTPORT-MASQ - [0:0]",
    "-X CNI-HOSTPORT-MASQ",
  ]);
  rs.get("filter")!.push("-A CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT");
  assert.equal(emptyChainRemoval(rs).get("filter"), undefined, "another CNI user's container keeps them");
});

test("containerRulesRemoval: a container's leftover masquerade chain and the jump to it go; another container's and a shared chain stay", () => {
  const a = "01a2e7e206ef2a1dc5b5cca60efa211235f79b946f54c9cfc339f2c198bae411";
  const b = "7165fe5bfc511aedfbae2c7f04e7954539254c44f28430dc5160c8d3df305a81";
  const rs = parseSave(`*nat
:POSTROUTING ACCEPT [0:0]
:CNI-c5f4cd3c8a34e53172b7c2de - [0:0]
:CNI-17dcbb0d4f21ecb0f5c08823 - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-DN-aaaa - [0:0]
-A POSTROUTING -s 10.87.0.194/32 -m comment --comment "name: \\"berth\\" id: \\"${a}\\"" -j CNI-c5f4cd3c8a34e53172b7c2de
-A POSTROUTING -s 10.87.0.25/32 -m comment --comment "name: \\"berth\\" id: \\"${b}\\"" -j CNI-17dcbb0d4f21ecb0f5c08823
-A CNI-c5f4cd3c8a34e53172b7c2de -d 10.87.0.0/16 -m comment --comment "name: \\"berth\\" id: \\"${a}\\"" -j ACCEPT
-A CNI-c5f4cd3c8a34e53172b7c2de ! -d 224.0.0.0/4 -m comment --comment "name: \\"berth\\" id: \\"${a}\\"" -j MASQUERADE
-A CNI-17dcbb0d4f21ecb0f5c08823 ! -d 224.0.0.0/4 -m comment --comment "name: \\"berth\\" id: \\"${b}\\"" -j MASQUERADE
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"berth\\" id: \\"${a}\\"" -m multiport --dports 19003 -j CNI-DN-aaaa
-A CNI-DN-aaaa -d 127.0.0.1/32 -p tcp -m tcp --dport 19003 -j DNAT --to-destination 10.87.0.194:80
COMMIT
`);
  assert.deepEqual(containerRulesRemoval(rs, [a]).get("nat"), [
    `-D POSTROUTING -s 10.87.0.194/32 -m comment --comment "name: \\"berth\\" id: \\"${a}\\"" -j CNI-c5f4cd3c8a34e53172b7c2de`,
    `-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"berth\\" id: \\"${a}\\"" -m multiport --dports 19003 -j CNI-DN-aaaa`,
    ":CNI-c5f4cd3c8a34e53172b7c2de - [0:0]",
    "-X CNI-c5f4cd3c8a34e53172b7c2de",
  ]);
  assert.equal(containerRulesRemoval(rs, ["f".repeat(64)]).size, 0, "nothing of a container that left nothing");
});

test("isolationChanges: two-stage drop rules per bridge, nothing when they are already right, all gone without bridges", () => {
  const ops = isolationChanges([":FORWARD ACCEPT [0:0]"], ["b1", "b2"]);
  assert.deepEqual(ops, [
    ":BERTH-ISOLATION-1 - [0:0]",
    ":BERTH-ISOLATION-2 - [0:0]",
    "-A BERTH-ISOLATION-1 -i b1 ! -o b1 -j BERTH-ISOLATION-2",
    "-A BERTH-ISOLATION-2 -o b1 -j DROP",
    "-A BERTH-ISOLATION-1 -i b2 ! -o b2 -j BERTH-ISOLATION-2",
    "-A BERTH-ISOLATION-2 -o b2 -j DROP",
    "-I FORWARD 1 -j BERTH-ISOLATION-1",
  ]);
  const now = [":FORWARD ACCEPT [0:0]", ...ops.filter((l) => l.startsWith(":")), "-A FORWARD -j BERTH-ISOLATION-1", ...ops.filter((l) => l.startsWith("-A"))];
  assert.deepEqual(isolationChanges(now, ["b2", "b1"]), []);
  assert.deepEqual(isolationChanges(now, []), ["-D FORWARD -j BERTH-ISOLATION-1", ":BERTH-ISOLATION-1 - [0:0]", "-X BERTH-ISOLATION-1", ":BERTH-ISOLATION-2 - [0:0]", "-X BERTH-ISOLATION-2"]);
  assert.deepEqual(isolationChanges([":FORWARD ACCEPT [0:0]"], []), []);
  // another root's bridge (not mine, still there) keeps its rules; a gone one's are dropped
  const mixed = isolationChanges(now, ["b3"], ["b1", "b3"], (b) => b === "b2");
  assert.deepEqual(mixed.filter((l) => l.startsWith("-A")), [
    "-A BERTH-ISOLATION-1 -i b2 ! -o b2 -j BERTH-ISOLATION-2",
    "-A BERTH-ISOLATION-2 -o b2 -j DROP",
    "-A BERTH-ISOLATION-1 -i b3 ! -o b3 -j BERTH-ISOLATION-2",
    "-A BERTH-ISOLATION-2 -o b3 -j DROP",
  ]);
});
