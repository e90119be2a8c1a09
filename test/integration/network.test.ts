// berth's networks as a user types them: network create/ls/inspect/rm/prune, containers on
// bridge networks through CNI pinging each other by IP, networks isolated from each other,
// and the host's links, namespaces, iptables rules and IPAM store back as they were after rm
// and network rm, even after a crash. Traffic only between the test's own namespaces.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";
import { berthCli } from "../helpers/berth.js";
import { added, firewallRules, links, netnses, run } from "../helpers/net.js";

// BERTH_TEST_BIN=native/build/berth runs the same tests through the Warm path
const BERTH = process.env.BERTH_TEST_BIN ? path.resolve(REPO, process.env.BERTH_TEST_BIN) : path.join(REPO, "bin", "berth");

/** GET / on 127.0.0.1:port, bounded by a 3 s timeout. */
function httpGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", timeout: 3000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}


describe("berth networks", { skip: rootSkip || (existsSync("/usr/lib/cni/bridge") ? false : "needs containernetworking-plugins") }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const tag = `n${process.pid % 100000}`;
  const netA = `${tag}a`;
  const netB = `${tag}b`;
  let host: { links: string[]; netns: string[]; rules: string[] };
  const { berth, ok, fails125: fails } = berthCli(BERTH, () => ({ root, runroot }));
  const fails125 = (args: string[], pattern: RegExp) => fails(args, pattern);
  const inspect = (ref: string) => JSON.parse(ok(["inspect", ref]))[0];
  const ipOf = (ref: string) => inspect(ref).NetworkSettings.IPAddress as string;
  /** an unused /24 in 10.200-249 (the test's networks only exist in its namespaces) */
  const subnet = (i: number) => `10.${200 + ((process.pid + i) % 50)}.${(process.pid >> 3) % 250}.0/24`;
  const ipamFiles = () => {
    const d = path.join(root, "networks", "ipam");
    return existsSync(d) ? readdirSync(d, { recursive: true }).map(String).sort() : [];
  };
  /** host-local's allocations: a file per address */
  const allocations = () => ipamFiles().filter((f) => /(^|\/)\d+\.\d+\.\d+\.\d+$/.test(f));

  before(() => {
    host = { links: links(), netns: netnses(), rules: firewallRules() };
    dir = mkdtempSync(path.join(tmpdir(), "berth-net-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
  });
  after(() => {
    // whatever a failed test left: containers (DEL through CNI), then networks and their bridges
    for (const id of ok(["ps", "-aq", "--no-trunc"]).split("\n").filter(Boolean)) berth(["rm", "-f", id]);
    const def = berth(["network", "inspect", "berth"]);
    if (def.code === 0) {
      const bridge = JSON.parse(def.stdout)[0].Options["com.docker.network.bridge.name"];
      if (links().includes(bridge)) run("ip", ["link", "delete", bridge]);
    }
    for (const n of [netA, netB]) {
      const r = berth(["network", "inspect", n]);
      if (r.code === 0) {
        const bridge = JSON.parse(r.stdout)[0].Options["com.docker.network.bridge.name"];
        berth(["network", "rm", n]);
        if (links().includes(bridge)) run("ip", ["link", "delete", bridge]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("network create, ls, inspect; the default network; bad input is one line and makes nothing", () => {
    const ls = ok(["network", "ls"]);
    assert.match(ls, /^NETWORK ID\s+NAME\s+DRIVER\s+SUBNET\s+SCOPE\n/);
    assert.match(ls, /\bberth\s+bridge\s+10\.\d+\.0\.0\/16\s+local\n/, "the default network exists from the first use");
    const id = ok(["network", "create", "--subnet", subnet(0), netA]).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    ok(["network", "create", "--subnet", subnet(1), "--gateway", subnet(1).replace(/0\/24$/, "254"), netB]);
    const b = JSON.parse(ok(["network", "inspect", netB]))[0];
    assert.deepEqual(b.IPAM.Config, [{ Subnet: subnet(1), Gateway: subnet(1).replace(/0\/24$/, "254") }]);
    assert.match(b.Options["com.docker.network.bridge.name"], /^br-[0-9a-f]{12}$/);
    assert.deepEqual(ok(["network", "ls", "-q"]).split("\n").filter(Boolean).sort(), ["berth", netA, netB].sort());
    fails125(["network", "create", "--subnet", subnet(0).replace(/\.\d+\.0\/24$/, ".0.0/16"), `${tag}x`], new RegExp(`^berth: invalid subnet .*: it overlaps network ${netA} \\(${subnet(0).replace(/\./g, "\\.")}\\)`));
    fails125(["network", "create", netA], new RegExp(`network with name ${netA} already exists`));
    fails125(["network", "create", "--subnet", "10.1.2.3/24", `${tag}x`], /host bits are set/);
    fails125(["network", "create", "--subnet", subnet(2), "--gateway", "192.0.2.1", `${tag}x`], /invalid gateway 192\.0\.2\.1: not a host address/);
    fails125(["run", "--rm", "--network", "nope", "busybox", "true"], /^berth: network nope not found\n$/);
    fails125(["network", "rm", "berth"], /berth is a pre-defined network and cannot be removed/);
    assert.deepEqual(ok(["network", "ls", "-q"]).split("\n").filter(Boolean).sort(), ["berth", netA, netB].sort());
    assert.deepEqual(ok(["ps", "-aq"]), "");
  });

  test("--network none has only lo; --network host sees the host's links", () => {
    const names = (out: string) => out.split("\n").filter(Boolean).map((l) => l.split(":")[1]!.trim().split("@")[0]!).sort();
    assert.deepEqual(names(ok(["run", "--rm", "--network", "none", "busybox", "ip", "-o", "link"])), ["lo"]);
    // the host is shared: a link that came or went during the run may or may not be seen
    const before = links();
    const seen = names(ok(["run", "--rm", "--network", "host", "busybox", "ip", "-o", "link"]));
    const after = links();
    assert.deepEqual(before.filter((l) => after.includes(l) && !seen.includes(l)), [], "every link the host had throughout is seen");
    assert.deepEqual(seen.filter((l) => !before.includes(l) && !after.includes(l)), [], "nothing the host never had");
  });

  test("two containers on one network ping each other by IP; another network cannot reach them; ip netns shows them", () => {
    const c1 = ok(["run", "-d", "--name", `${tag}c1`, "--network", netA, "busybox", "sleep", "300"]).trim();
    const c2 = ok(["run", "-d", "--name", `${tag}c2`, "--network", netA, "busybox", "sleep", "300"]).trim();
    const c3 = ok(["run", "-d", "--name", `${tag}c3`, "--network", netB, "busybox", "sleep", "300"]).trim();
    const [ip1, ip2, ip3] = [ipOf(c1), ipOf(c2), ipOf(c3)];
    const inA = new RegExp(`^${subnet(0).replace(/0\/24$/, "").replace(/\./g, "\\.")}\\d+$`);
    assert.match(ip1, inA);
    assert.match(ip2, inA);
    assert.notEqual(ip1, ip2);
    // the named netns is the container's: `ip netns exec` sees its address
    const ns1 = `berth-${c1.slice(0, 12)}`;
    assert.ok(netnses().includes(ns1));
    assert.match(run("ip", ["netns", "exec", ns1, "ip", "-o", "-4", "addr", "show", "eth0"]).stdout, new RegExp(`inet ${ip1.replace(/\./g, "\\.")}/24`));
    assert.equal(inspect(c1).NetworkSettings.SandboxKey, `/run/netns/${ns1}`);
    const ping = (ref: string, ip: string) => berth(["exec", ref, "ping", "-c", "1", "-W", "2", ip]);
    const r12 = ping(c1, ip2);
    assert.equal(r12.code, 0, r12.stdout + r12.stderr);
    assert.match(r12.stdout, /1 packets received/);
    assert.equal(ping(c2, ip1).code, 0);
    // the bridge plugin (isGateway) turned on forwarding: only berth's isolation rules stop this
    assert.equal(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(), "1");
    assert.notEqual(ping(c3, ip1).code, 0, "a container on another network cannot reach netA");
    assert.notEqual(ping(c1, ip3).code, 0, "nor the other way");
    assert.deepEqual(JSON.parse(ok(["network", "inspect", netA]))[0].Containers.sort(), [`${tag}c1`, `${tag}c2`]);
    fails125(["network", "rm", netA], new RegExp(`network ${netA} has active endpoints`));
    ok(["rm", "-f", c1, c2, c3]);
    assert.ok(!netnses().includes(ns1));
  });

  test("containers on one network reach each other by name; /etc/hosts follows them as they come and go", () => {
    // only names in /etc/hosts are looked up here: a name not there would go to the host's DNS
    const [n1, n2, n3, n4] = ["d1", "d2", "d3", "d4"].map((s) => `${tag}${s}`);
    const c1 = ok(["run", "-d", "--name", n1, "--network", netA, "busybox", "sleep", "300"]).trim();
    ok(["run", "-d", "--name", n2, "--network", netA, "busybox", "sleep", "300"]);
    ok(["run", "-d", "--name", n3, "--network", netB, "busybox", "sleep", "300"]);
    const hosts = (ref: string) => ok(["exec", ref, "cat", "/etc/hosts"]);
    assert.match(hosts(n1), new RegExp(`^${ipOf(n2).replace(/\./g, "\\.")}\t${n2} [0-9a-f]{12}$`, "m"), "n1 learnt of n2, started after it");
    assert.match(hosts(n2), new RegExp(`^${ipOf(n1).replace(/\./g, "\\.")}\t${n1} ${c1.slice(0, 12)}$`, "m"));
    const r = berth(["exec", n1, "ping", "-c", "1", "-W", "2", n2]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`PING ${n2} \\(${ipOf(n2).replace(/\./g, "\\.")}\\)`));
    assert.equal(berth(["exec", n2, "ping", "-c", "1", "-W", "2", c1.slice(0, 12)]).code, 0, "by short ID too");
    assert.doesNotMatch(hosts(n3), new RegExp(n1), "another network's containers are not listed");
    assert.doesNotMatch(hosts(n1), new RegExp(n3));
    ok(["rm", "-f", n2]);
    assert.doesNotMatch(hosts(n1), new RegExp(n2), "a removed container's entry goes");
    ok(["run", "-d", "--name", n4, "--network", netA, "busybox", "sleep", "300"]);
    assert.match(hosts(n1), new RegExp(`\t${n4} `), "a new one is added");
    ok(["rm", "-f", n1, n3, n4]);
  });

  test("--internal: no default route in the container and no NAT rule for it", () => {
    const netI = `${tag}i`;
    ok(["network", "create", "--internal", "--subnet", subnet(3), netI]);
    try {
      assert.equal(JSON.parse(ok(["network", "inspect", netI]))[0].Internal, true);
      const id = ok(["run", "-d", "--network", netI, "busybox", "sleep", "300"]).trim();
      const routes = ok(["exec", id, "ip", "route"]);
      assert.doesNotMatch(routes, /default/);
      assert.match(routes, new RegExp(subnet(3).replace(/\./g, "\\.")));
      assert.ok(!firewallRules().some((l) => l.includes(id) && l.includes("MASQUERADE")), "no outbound NAT");
      ok(["rm", "-f", id]);
    } finally {
      berth(["network", "rm", netI]);
    }
  });

  test("without --network a container is on the default network (bridge), with its own bridge for this --root, gone with its last container", () => {
    const out = ok(["run", "--rm", "--network", "bridge", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
    const net = JSON.parse(ok(["network", "inspect", "bridge"]))[0];
    assert.equal(net.Name, "berth");
    const bridge = net.Options["com.docker.network.bridge.name"];
    assert.match(bridge, /^berth-[0-9a-f]{8}$/);
    const prefix = net.IPAM.Config[0].Subnet.split(".").slice(0, 2).join("\\.");
    assert.match(out, new RegExp(`eth0\\s+inet ${prefix}\\.\\d+\\.\\d+/16`));
    assert.ok(!links().includes(bridge), "no container on it: its bridge is gone");
    // no --network: the same network, as Docker's default bridge
    const id = ok(["run", "-d", "busybox", "sleep", "100"]).trim();
    try {
      assert.deepEqual(Object.keys(inspect(id).NetworkSettings.Networks), ["berth"]);
      assert.match(ok(["exec", id, "ip", "-o", "-4", "addr", "show", "eth0"]), new RegExp(`eth0\\s+inet ${prefix}\\.`));
      assert.ok(links().includes(bridge));
    } finally {
      ok(["rm", "-f", id]);
    }
    assert.ok(!links().includes(bridge));
  });

  test("two roots' default networks never share a subnet at once: an idle one whose subnet another root took takes a free one", () => {
    const subnetOf = (args: string[]) => JSON.parse(ok([...args, "network", "inspect", "bridge"]))[0].IPAM.Config[0].Subnet as string;
    const mine = subnetOf([]);
    const bridge = JSON.parse(ok(["network", "inspect", "bridge"]))[0].Options["com.docker.network.bridge.name"] as string;
    assert.ok(!links().includes(bridge), "this root's default network is idle: no bridge, no route");
    // another root, made now: its default network may take the same subnet, free as it is
    const other = ["--root", path.join(dir, "root2"), "--runroot", path.join(dir, "run2")];
    const other$ = (args: string[]) => {
      const r = spawnSync(BERTH, [...other, ...args], { encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    other$(["bootstrap", "busybox"]);
    const hold = other$(["run", "-d", "busybox", "sleep", "300"]).trim();
    try {
      const theirs = subnetOf(other);
      const addr = ok(["run", "--rm", "busybox", "ip", "-o", "-4", "addr", "show", "eth0"]);
      const now = subnetOf([]);
      assert.notEqual(now, theirs, "not the subnet the other root's running container is on");
      if (theirs === mine) assert.notEqual(now, mine, "the taken subnet was exchanged");
      assert.match(addr, new RegExp(`inet ${now.split(".").slice(0, 2).join("\\.")}\\.`));
    } finally {
      other$(["rm", "-f", hold]);
      other$(["network", "prune"]);
    }
    assert.ok(!links().some((l) => l.startsWith("berth-") && !host.links.includes(l)), "no bridge of either root left");
  });

  test("a container that exits on its own is torn down by its monitor's cleanup: no rule, netns or address of it left, --rm or not", async () => {
    const ids = [ok(["run", "-d", "busybox", "sh", "-c", "sleep 1"]).trim(), ok(["run", "-d", "--rm", "busybox", "sh", "-c", "sleep 1"]).trim()];
    // the monitor's cleanup runs once the program is over: a bounded wait for its netns to go
    for (let i = 0; i < 200 && ids.some((id) => netnses().includes(`berth-${id.slice(0, 12)}`)); i++) await new Promise((r) => setTimeout(r, 50));
    for (const id of ids) {
      assert.ok(!netnses().includes(`berth-${id.slice(0, 12)}`), "its netns is gone");
      assert.deepEqual(firewallRules().filter((l) => l.includes(id)), [], `no rule of ${id.slice(0, 12)} left (the monitor ran it from the host's network namespace)`);
    }
    assert.equal(inspect(ids[0]!).State.Status, "exited");
    ok(["rm", ids[0]!]);
    assert.deepEqual(allocations(), []);
  });

  test("a crashed container (monitor and program killed) is cleaned up by the next berth command", async () => {
    const id = ok(["run", "-d", "--network", netA, "busybox", "sleep", "300"]).trim();
    const c = inspect(id);
    const monitor = Number(spawnSync("ps", ["-o", "ppid=", "-p", String(c.State.Pid)], { encoding: "utf8" }).stdout.trim());
    assert.ok(monitor > 1, "the monitor is the program's parent");
    process.kill(monitor, "SIGKILL");
    process.kill(c.State.Pid, "SIGKILL");
    // bounded: the kernel reaps the program soon
    for (let i = 0; i < 100 && existsSync(`/proc/${c.State.Pid}`); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(netnses().includes(`berth-${id.slice(0, 12)}`), "the netns outlives the crash");
    ok(["ps", "-a"]); // the next command finds it dead and cleans up
    assert.ok(!netnses().includes(`berth-${id.slice(0, 12)}`));
    assert.deepEqual(readdirSync(path.join(root, "networks", "cache")), [], "its CNI attachment was deleted");
    ok(["rm", id]);
  });

  test("-p 127.0.0.1:PORT:80 makes a busybox httpd inside reachable from the host's loopback; berth port; the rules go with rm", async () => {
    const port = 18000 + (process.pid % 1000);
    const www = path.join(dir, "www");
    mkdirSync(www);
    writeFileSync(path.join(www, "index.html"), "hello from berth\n");
    const id = ok(["run", "-d", "--network", netA, "-p", `127.0.0.1:${port}:80`, "-v", `${www}:/www:ro`, "busybox", "httpd", "-f", "-p", "80", "-h", "/www"]).trim();
    assert.equal(ok(["port", id]), `80/tcp -> 127.0.0.1:${port}\n`);
    assert.equal(ok(["port", id, "80/tcp"]), `127.0.0.1:${port}\n`);
    assert.deepEqual(inspect(id).NetworkSettings.Ports, { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] });
    // httpd may take a moment to listen (longer on a loaded machine): bounded tries, about 10 s
    let got: { status: number; body: string } | undefined;
    for (let i = 0; i < 100 && !got; i++) {
      got = await httpGet(port).catch(() => undefined);
      if (!got) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(got, { status: 200, body: "hello from berth\n" });
    // the same host port again: one line, nothing made
    fails125(["run", "-d", "--network", netA, "-p", `127.0.0.1:${port}:80`, "busybox", "true"], new RegExp(`^berth: Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`));
    fails125(["run", "-d", "-p", "127.0.0.1:70000:80", "busybox", "true"], /invalid port "70000"/);
    fails125(["run", "-d", "--network", "none", "-p", "8080:80", "busybox", "true"], /published ports need a network/);
    assert.deepEqual(ok(["ps", "-aq", "--no-trunc"]).trim(), id);
    ok(["rm", "-f", id]);
    assert.equal(await httpGet(port).catch(() => "refused"), "refused");
    assert.ok(!firewallRules().some((l) => l.includes(String(port))), "the DNAT rules are gone");
  });

  test("a port something on the host already listens on is refused in one line", async () => {
    const server = net.createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const port = (server.address() as net.AddressInfo).port;
      fails125(["run", "-d", "--network", netA, "-p", `127.0.0.1:${port}:80`, "busybox", "true"], new RegExp(`^berth: Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated\n$`));
      assert.deepEqual(ok(["ps", "-aq"]), "");
    } finally {
      server.close();
    }
  });

  test("six runs at once (each with -p) on one network, then rm -f of each from its own process (racing their monitors' cleanup): nothing of them is left", async () => {
    /** berth in a process of its own; its stdout, or a rejection with its stderr */
    const spawned = (args: string[]) =>
      new Promise<string>((resolve, reject) => {
        const c = spawn(BERTH, ["--root", root, "--runroot", runroot, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
        let out = "";
        let err = "";
        c.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
        c.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
        c.on("close", (code) => (code === 0 && err === "" ? resolve(out.trim()) : reject(new Error(`berth ${args[0]}: exit ${code}: ${err}`))));
      });
    const base = 20000 + (process.pid % 2000) * 10;
    const ids = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => spawned(["run", "-d", "--network", netA, "-p", `127.0.0.1:${base + i}:80`, "busybox", "sleep", "300"])));
    assert.equal(new Set(ids.map((id) => ipOf(id))).size, 6, "six addresses");
    // concurrent teardowns of different containers change the shared iptables chains at once
    await Promise.all(ids.map((id) => spawned(["rm", "-f", id])));
    ok(["ps", "-a"]); // and whatever cleanup a monitor left to the next command
    for (const id of ids) {
      assert.ok(!netnses().includes(`berth-${id.slice(0, 12)}`));
      assert.ok(!firewallRules().some((l) => l.includes(id)), `no rule of ${id.slice(0, 12)} left`);
    }
    assert.deepEqual(allocations(), []);
  });

  test("after rm of every container and network rm, links, netns, iptables rules and the IPAM store are as before", () => {
    const bridges = [netA, netB].map((n) => JSON.parse(ok(["network", "inspect", n]))[0].Options["com.docker.network.bridge.name"] as string);
    assert.deepEqual(ok(["network", "prune"]).split("\n").filter(Boolean).sort(), ["Deleted Networks:", netA, netB].sort());
    for (const b of bridges) assert.ok(!links().includes(b), `bridge ${b} removed`);
    assert.deepEqual(added(links(), host.links), [], "links left");
    assert.deepEqual(added(netnses(), host.netns), [], "netns left");
    assert.deepEqual(added(firewallRules(), host.rules), [], "rules left");
    assert.deepEqual(allocations(), [], "no IP allocations left");
    assert.deepEqual(ipamFiles().filter((f) => f.startsWith(netA) || f.startsWith(netB)), [], "the removed networks' IPAM stores are gone");
    assert.deepEqual(ok(["network", "ls", "-q"]), "berth\n");
  });
});
