// More of berth's networking as a user types it: --ip, --mac-address, --network-alias,
// --dns*, --add-host, and the host's links, namespaces, iptables rules and IPAM store back as
// they were afterwards. Traffic only between the test's own namespaces; only names in the
// containers' /etc/hosts are looked up.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";
import { added, firewallRules, freeSubnet, links, netnses, run } from "../helpers/net.js";

const BERTH = process.env.BERTH_TEST_BIN ? path.resolve(REPO, process.env.BERTH_TEST_BIN) : path.join(REPO, "bin", "berth");

/** GET path on 127.0.0.1:port, bounded by a 3 s timeout. */
function httpGet(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: p, timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe("berth networking options", { skip: rootSkip || (existsSync("/usr/lib/cni/bridge") ? false : "needs containernetworking-plugins") }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const tag = `m${process.pid % 100000}`;
  const netA = `${tag}a`;
  const netB = `${tag}b`;
  let subA: string;
  let subB: string;
  let host: { links: string[]; netns: string[]; rules: string[] };
  const berth = (args: string[], env: Record<string, string> = {}): Result => {
    const r = spawnSync(BERTH, ["--root", root, "--runroot", runroot, ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
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
  const inspect = (ref: string) => JSON.parse(ok(["inspect", ref]))[0];
  const ipamAllocations = () => {
    const d = path.join(root, "networks", "ipam");
    return existsSync(d) ? readdirSync(d, { recursive: true }).map(String).filter((f) => /(^|\/)\d+\.\d+\.\d+\.\d+$/.test(f)).sort() : [];
  };
  const host24 = (sub: string, n: number) => sub.replace(/0\/24$/, String(n));
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const bridgeOf = (n: string) => JSON.parse(ok(["network", "inspect", n]))[0].Options["com.docker.network.bridge.name"] as string;

  before(() => {
    host = { links: links(), netns: netnses(), rules: firewallRules() };
    dir = mkdtempSync(path.join(tmpdir(), "berth-netm-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
    subA = freeSubnet(process.pid);
    ok(["network", "create", "--subnet", subA, netA]);
    subB = freeSubnet(process.pid + 77);
    ok(["network", "create", "--subnet", subB, netB]);
  });
  after(() => {
    for (const id of berth(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean)) berth(["rm", "-f", id]);
    for (const n of [netA, netB, "berth"]) {
      const r = berth(["network", "inspect", n]);
      if (r.code !== 0) continue;
      const bridge = JSON.parse(r.stdout)[0].Options["com.docker.network.bridge.name"];
      if (n !== "berth") berth(["network", "rm", n]);
      if (links().includes(bridge)) run("ip", ["link", "delete", bridge]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("--ip gives that address, --mac-address shows in ip link, --network-alias is a name the peers reach it by", () => {
    const ip = host24(subA, 77);
    const c1 = ok(["run", "-d", "--name", `${tag}c1`, "--network", netA, "--ip", ip, "--mac-address", "02:42:0a:de:ad:01", "--network-alias", `${tag}web`, "busybox", "sleep", "300"]).trim();
    assert.match(ok(["exec", c1, "ip", "-o", "-4", "addr", "show", "eth0"]), new RegExp(`inet ${esc(ip)}/24 `));
    assert.match(ok(["exec", c1, "ip", "link", "show", "eth0"]), /link\/ether 02:42:0a:de:ad:01 /);
    assert.equal(inspect(c1).NetworkSettings.IPAddress, ip);
    assert.equal(inspect(c1).NetworkSettings.MacAddress, "02:42:0a:de:ad:01");
    ok(["run", "-d", "--name", `${tag}c2`, "--network", netA, "busybox", "sleep", "300"]);
    assert.match(ok(["exec", `${tag}c2`, "cat", "/etc/hosts"]), new RegExp(`^${esc(ip)}\t${tag}c1 ${c1.slice(0, 12)} ${tag}web$`, "m"));
    const r = berth(["exec", `${tag}c2`, "ping", "-c", "1", "-W", "2", `${tag}web`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`PING ${tag}web \\(${esc(ip)}\\)`));
    // the address is taken: a second container asking for it is refused by host-local, and nothing of it stays
    const before = ipamAllocations();
    const again = berth(["run", "--rm", "--network", netA, "--ip", ip, "busybox", "true"]);
    assert.equal(again.code, 125, again.stderr);
    assert.match(again.stderr, new RegExp(`^berth: --ip ${esc(ip)}: address already in use on network ${netA} \\(container ${c1.slice(0, 12)}\\)\n$`));
    assert.deepEqual(ipamAllocations(), before);
    ok(["rm", "-f", `${tag}c1`, `${tag}c2`]);
  });

  test("--dns, --dns-search, --dns-option and --add-host are in resolv.conf and /etc/hosts", () => {
    const out = ok(["run", "--rm", "--network", netA, "--dns", "192.0.2.53", "--dns", "192.0.2.54", "--dns-search", "corp.test", "--dns-option", "ndots:2", "--add-host", "db.test:192.0.2.10", "--add-host", "cache:192.0.2.11", "busybox", "sh", "-c", "cat /etc/resolv.conf; echo ---; cat /etc/hosts"]);
    const [resolv, hosts] = out.split("---\n") as [string, string];
    assert.deepEqual(resolv.split("\n").filter((l) => /^(nameserver|search|domain|options)\b/.test(l)), ["nameserver 192.0.2.53", "nameserver 192.0.2.54", "search corp.test", "options ndots:2"]);
    assert.match(hosts, /^192\.0\.2\.10\tdb\.test$/m);
    assert.match(hosts, /^192\.0\.2\.11\tcache$/m);
    // --add-host works without a network too, and ping resolves the name from the file
    assert.match(ok(["run", "--rm", "--add-host", "me:127.0.0.1", "busybox", "ping", "-c", "1", "-W", "2", "me"]), /PING me \(127\.0\.0\.1\)/);
  });

  test("several networks per container (eth0, eth1); network connect and disconnect change the interfaces, reachability and /etc/hosts", () => {
    const addrs = (ref: string) => ok(["exec", ref, "ip", "-o", "-4", "addr"]).split("\n").filter((l) => /\beth\d+\b/.test(l)).map((l) => { const m = /^\d+: (eth\d+)\s+inet ([\d.]+)\//.exec(l)!; return `${m[1]} ${m[2]}`; }).sort();
    const inSub = (sub: string) => new RegExp(`^${esc(sub.replace(/0\/24$/, ""))}\\d+$`);
    const ping = (ref: string, ip: string) => berth(["exec", ref, "ping", "-c", "1", "-W", "2", ip]).code;
    const [na, nb, nc] = ["e1", "e2", "e3"].map((s) => `${tag}${s}`) as [string, string, string];
    ok(["run", "-d", "--name", na, "--network", netA, "--network", netB, "busybox", "sleep", "300"]);
    const aAddrs = addrs(na);
    assert.deepEqual(aAddrs.map((a) => a.split(" ")[0]), ["eth0", "eth1"]);
    const [aOnA, aOnB] = aAddrs.map((a) => a.split(" ")[1]!) as [string, string];
    assert.match(aOnA, inSub(subA));
    assert.match(aOnB, inSub(subB));
    assert.deepEqual(JSON.parse(ok(["network", "inspect", netB]))[0].Containers, [na]);
    assert.deepEqual(Object.keys(inspect(na).NetworkSettings.Networks).sort(), [netA, netB].sort());
    // a second container on netA only: it reaches na on netA, not na's netB address
    const cb = ok(["run", "-d", "--name", nb, "--network", netA, "busybox", "sleep", "300"]).trim();
    const [bOnA] = addrs(nb).map((a) => a.split(" ")[1]!) as [string];
    assert.equal(ping(nb, aOnA), 0);
    assert.notEqual(ping(nb, aOnB), 0, "netB is not reachable from a container only on netA");
    // connect: eth1 on netB with the address asked for, the alias in na's /etc/hosts
    const ipB = host24(subB, 50);
    ok(["network", "connect", "--ip", ipB, "--alias", `${tag}bee`, netB, nb]);
    assert.deepEqual(addrs(nb), [`eth0 ${bOnA}`, `eth1 ${ipB}`]);
    assert.equal(ping(na, ipB), 0);
    assert.equal(ping(nb, aOnB), 0);
    assert.match(ok(["exec", na, "cat", "/etc/hosts"]), new RegExp(`^${esc(ipB)}\t${nb} ${cb.slice(0, 12)} ${tag}bee$`, "m"));
    assert.equal(berth(["exec", na, "ping", "-c", "1", "-W", "2", `${tag}bee`]).code, 0, "by the alias");
    assert.deepEqual(JSON.parse(ok(["network", "inspect", netB]))[0].Containers.sort(), [na, nb].sort());
    fails125(["network", "connect", netB, nb], new RegExp(`^berth: container ${nb} is already connected to network ${netB}\n$`));
    // disconnect netA: eth0 goes, netA no longer reaches it, and the hosts files forget that address
    ok(["network", "disconnect", netA, nb]);
    assert.deepEqual(addrs(nb), [`eth1 ${ipB}`]);
    assert.notEqual(ping(na, bOnA), 0);
    assert.equal(ping(na, ipB), 0, "still on netB");
    assert.doesNotMatch(ok(["exec", na, "cat", "/etc/hosts"]), new RegExp(`^${esc(bOnA)}\t`, "m"));
    assert.doesNotMatch(ok(["exec", nb, "cat", "/etc/hosts"]), new RegExp(`^${esc(aOnA)}\t`, "m"));
    assert.deepEqual(JSON.parse(ok(["network", "inspect", netA]))[0].Containers, [na]);
    fails125(["network", "disconnect", netA, nb], new RegExp(`^berth: container ${nb} is not connected to network ${netA}\n$`));
    // disconnect of its last network: only lo left
    ok(["network", "disconnect", netB, nb]);
    assert.deepEqual(addrs(nb), []);
    assert.notEqual(ping(na, ipB), 0);
    // a stopped container: connect takes effect at its start
    ok(["create", "--name", nc, "--network", netA, "busybox", "sleep", "300"]);
    ok(["network", "connect", netB, nc]);
    ok(["start", nc]);
    assert.deepEqual(addrs(nc).map((a) => a.split(" ")[0]), ["eth0", "eth1"]);
    ok(["rm", "-f", na, nb, nc]);
    assert.deepEqual(ipamAllocations(), []);
  });

  test("network connect and disconnect: bad input is one line, exit 125, nothing changed", () => {
    const c = ok(["run", "-d", "--name", `${tag}f1`, "--network", netA, "busybox", "sleep", "300"]).trim();
    ok(["run", "-d", "--name", `${tag}f2`, "--network", "none", "busybox", "sleep", "300"]);
    const before = { links: links(), ipam: ipamAllocations(), config: inspect(c).HostConfig };
    fails125(["network", "connect", "nope", c], /^berth: network nope not found\n$/);
    fails125(["network", "connect", netB, "nosuch"], /^berth: No such container: nosuch\n$/);
    fails125(["network", "connect", "--ip", host24(subA, 9), netB, c], new RegExp(`^berth: --ip ${esc(host24(subA, 9))}: not a host address of network ${netB}`));
    fails125(["network", "connect", netB, `${tag}f2`], new RegExp(`^berth: container ${tag}f2 is on --network none: it cannot be connected to a network\n$`));
    fails125(["network", "disconnect", netB, c], new RegExp(`^berth: container ${tag}f1 is not connected to network ${netB}\n$`));
    fails125(["run", "--rm", "--network", netA, "--network", "nope", "busybox", "true"], /^berth: network nope not found\n$/);
    fails125(["run", "--rm", "--network", netA, "--network", "none", "busybox", "true"], /several networks must all be networks' names/);
    assert.deepEqual({ links: added(links(), before.links), ipam: ipamAllocations(), config: inspect(c).HostConfig }, { ...before, links: [] });
    ok(["rm", "-f", `${tag}f1`, `${tag}f2`]);
  });

  test("-P publishes the image's EXPOSE to free host ports: berth port shows them, 127.0.0.1 reaches them, rm takes them away", async () => {
    ok(["create", "--name", `${tag}base`, "busybox", "true"]);
    ok(["commit", "-c", "EXPOSE 80", "-c", "EXPOSE 81/udp", `${tag}base`, `${tag}web:1`]);
    ok(["rm", `${tag}base`]);
    const r = berth(["run", "-d", "--name", `${tag}w`, "-P", `${tag}web:1`, "httpd", "-f", "-p", "80", "-h", "/etc"], { BERTH_PUBLISH_ALL_IP: "127.0.0.1" });
    assert.equal(r.code, 0, r.stderr);
    const lines = ok(["port", `${tag}w`]).trim().split("\n").sort();
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0]!, /^80\/tcp -> 127\.0\.0\.1:(\d+)$/);
    assert.match(lines[1]!, /^81\/udp -> 127\.0\.0\.1:(\d+)$/);
    const port = Number(/:(\d+)$/.exec(lines[0]!)![1]);
    assert.ok(port >= 32768 && port <= 60999, `a port in 32768-60999: ${port}`);
    assert.equal(ok(["port", `${tag}w`, "80/tcp"]).trim(), `127.0.0.1:${port}`);
    // httpd may need a moment to listen (longer on a loaded machine): bounded retries, about 10 s
    let got: { status: number; body: string } | undefined;
    for (let i = 0; i < 100 && !got; i++) {
      got = await httpGet(port, "/hostname").catch(() => undefined);
      if (!got) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(got?.status, 200);
    assert.equal(got?.body.trim(), (inspect(`${tag}w`).Id as string).slice(0, 12), "the container's /etc/hostname, served by its httpd");
    ok(["rm", "-f", `${tag}w`]);
    assert.equal(await httpGet(port, "/hostname").then(() => "answered", () => "refused"), "refused", "the port goes with rm");
    fails125(["run", "--rm", "--network", "none", "-P", `${tag}web:1`, "true"], /^berth: -P: published ports need a network, not --network none\n$/);
    ok(["rmi", `${tag}web:1`]);
  });

  test("--network container:NAME shares the other's interfaces, /etc/hosts and resolv.conf; container:missing is refused", () => {
    const hub = `${tag}hub`;
    ok(["run", "-d", "--name", hub, "--network", netA, "--add-host", "only.hub:192.0.2.7", "busybox", "sleep", "300"]);
    const links = (out: string) => out.split("\n").filter(Boolean).map((l) => l.replace(/^\d+: /, "").replace(/\s+/g, " ").replace(/@if\d+/, "")).map((l) => `${l.split(":")[0]} ${/link\/\S+ (\S+)/.exec(l)?.[1]}`).sort();
    const mine = ok(["run", "--rm", "--network", `container:${hub}`, "busybox", "ip", "-o", "link"]);
    assert.deepEqual(links(mine), links(ok(["exec", hub, "ip", "-o", "link"])));
    assert.match(ok(["run", "--rm", "--network", `container:${hub}`, "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]), new RegExp(`inet ${esc(inspect(hub).NetworkSettings.IPAddress)}/24`));
    assert.equal(ok(["run", "--rm", "--network", `container:${hub}`, "busybox", "cat", "/etc/hosts"]), ok(["exec", hub, "cat", "/etc/hosts"]));
    assert.equal(ok(["run", "--rm", "--network", `container:${hub}`, "busybox", "cat", "/etc/resolv.conf"]), ok(["exec", hub, "cat", "/etc/resolv.conf"]));
    // both see one loopback: a server in the joiner is reached from the hub on 127.0.0.1
    ok(["run", "-d", "--name", `${tag}side`, "--network", `container:${hub}`, "busybox", "httpd", "-f", "-p", "127.0.0.1:8099", "-h", "/etc"]);
    let body = "";
    for (let i = 0; i < 30 && !body.includes("only.hub"); i++) body = berth(["exec", hub, "wget", "-O", "-", "http://127.0.0.1:8099/hosts"]).stdout;
    assert.match(body, /only\.hub/);
    const ps = ok(["ps", "-aq"]);
    fails125(["run", "--rm", "--network", "container:missing", "busybox", "true"], /^berth: No such container: missing\n$/);
    fails125(["run", "--rm", "--network", `container:${hub}`, "--add-host", "a:192.0.2.1", "busybox", "true"], /^berth: conflicting options: --add-host and --network container:/);
    assert.equal(ok(["ps", "-aq"]), ps);
    ok(["stop", "-t", "1", hub]);
    fails125(["run", "--rm", "--network", `container:${hub}`, "busybox", "true"], new RegExp(`^berth: cannot join network of a non running container: ${hub}\n$`));
    // the hub goes after the containers that join its network, as in Podman: refused even with -f
    fails125(["rm", "-f", hub], new RegExp(`^berth: container ${hub} has dependent containers which must be removed before it: ${tag}side\n$`));
    assert.equal(inspect(hub).State.Status, "exited");
    // prune takes stopped containers, but not one whose network a running one joins
    assert.doesNotMatch(ok(["container", "prune", "-f"]), new RegExp(inspect(hub).Id));
    assert.equal(inspect(hub).State.Status, "exited");
    ok(["rm", "-f", `${tag}side`, hub]);
  });

  test("bad input is one line, exit 125, nothing made", () => {
    const ps = ok(["ps", "-aq"]);
    const before = { links: links(), netns: netnses(), ipam: ipamAllocations() };
    fails125(["run", "--rm", "--network", netA, "--ip", host24(subB, 9), "busybox", "true"], new RegExp(`^berth: --ip ${esc(host24(subB, 9))}: not a host address of network ${netA} \\(${esc(subA)}\\)\n$`));
    fails125(["run", "--rm", "--network", netA, "--ip", host24(subA, 1), "busybox", "true"], /the gateway of network/);
    fails125(["run", "--rm", "--network", netA, "--ip", "nope", "busybox", "true"], /^berth: --ip "nope": expected an IPv4 address\n$/);
    fails125(["run", "--rm", "--network", "none", "--ip", host24(subA, 9), "busybox", "true"], /^berth: --ip: needs a network, not --network none\n$/);
    fails125(["run", "--rm", "--network", netA, "--mac-address", "01:00:00:00:00:01", "busybox", "true"], /--mac-address "01:00:00:00:00:01": expected a unicast MAC/);
    fails125(["run", "--rm", "--add-host", "nocolon", "busybox", "true"], /^berth: --add-host "nocolon": expected HOST:IP\n$/);
    fails125(["run", "--rm", "--dns", "ns.example", "busybox", "true"], /--dns "ns\.example": expected an IP address/);
    assert.equal(ok(["ps", "-aq"]), ps);
    assert.deepEqual({ links: added(links(), before.links), netns: added(netnses(), before.netns), ipam: ipamAllocations() }, { ...before, links: [], netns: [] });
  });

  test("after rm of every container and network rm, links, netns, iptables rules and the IPAM store are as before", () => {
    for (const id of ok(["ps", "-aq"]).split("\n").filter(Boolean)) ok(["rm", "-f", id]);
    const bridges = [bridgeOf(netA), bridgeOf(netB), bridgeOf("berth")];
    ok(["network", "rm", netA, netB]);
    ok(["network", "prune"]);
    for (const b of bridges) if (links().includes(b)) run("ip", ["link", "delete", b]);
    assert.deepEqual(ipamAllocations(), []);
    assert.deepEqual(added(links(), host.links), [], "links left");
    assert.deepEqual(added(netnses(), host.netns), [], "netns left");
    assert.deepEqual(added(firewallRules(), host.rules), [], "rules left");
  });
});
