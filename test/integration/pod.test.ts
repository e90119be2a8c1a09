// Pods as a user types them: `pod create`, `run --pod`, and the pod's containers sharing its
// infra's (berth-pause's) namespaces: localhost between them, its port published on the host,
// `pod stop`/`start`, and `pod rm -f` leaving no process, netns, link or iptables rule behind.
// Traffic only to 127.0.0.1 and inside the test's own namespaces.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";
import { firewallRules, links, netnses, run } from "../helpers/net.js";

const BERTH = process.env.BERTH_TEST_BIN ? path.resolve(REPO, process.env.BERTH_TEST_BIN) : path.join(REPO, "bin", "berth");

/** GET path on 127.0.0.1:port, bounded by a 3 s timeout. */
function httpGet(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // a new connection each time (no keep-alive): after pod stop/start the old one leads nowhere
    const req = http.get({ host: "127.0.0.1", port, path: p, timeout: 3000, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** A host port nothing listens on now (the kernel's pick). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A live process (not a zombie) with that pid. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe("berth pods", { skip: rootSkip || (existsSync("/usr/lib/cni/bridge") ? false : "needs containernetworking-plugins") }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const tag = `pd${process.pid % 100000}`;
  const pod = `${tag}p`;
  let hostPort: number;
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
  const podInspect = (ref: string) => JSON.parse(ok(["pod", "inspect", ref]))[0];
  const pidOf = (ref: string) => JSON.parse(ok(["inspect", ref]))[0].State.Pid as number;
  const ns = (pid: number, type: string) => readlinkSync(`/proc/${pid}/ns/${type}`);
  const inPod = (ref: string) => ok(["ps", "--filter", `pod=${ref}`, "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-pod-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
    hostPort = await freePort();
  });
  after(() => {
    for (const id of berth(["pod", "ps", "-q", "--no-trunc"]).stdout.split("\n").filter(Boolean)) berth(["pod", "rm", "-f", id]);
    for (const id of berth(["ps", "-aq", "--no-trunc"]).stdout.split("\n").filter(Boolean)) berth(["rm", "-f", id]);
    const r = berth(["network", "inspect", "berth"]);
    if (r.code === 0) {
      const bridge = JSON.parse(r.stdout)[0].Options["com.docker.network.bridge.name"];
      if (links().includes(bridge)) run("ip", ["link", "delete", bridge]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("a pod's containers share its pause process's net, ipc and uts namespaces: localhost between them, its port on the host", async () => {
    const id = ok(["pod", "create", "--name", pod, "-p", `127.0.0.1:${hostPort}:8080`]).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    let p = podInspect(pod);
    assert.equal(p.State, "Created");
    assert.equal(p.InfraPid, 0);
    assert.equal(p.Network, "berth"); // the default bridge network, as run's default as root
    assert.deepEqual(p.SharedNamespaces, ["net", "ipc", "uts"]);
    assert.deepEqual(p.PortBindings, [{ HostIp: "127.0.0.1", HostPort: String(hostPort), ContainerPort: "8080/tcp" }]);
    // one server on the pod's localhost only, one on all its addresses (the published port)
    ok(["run", "-d", "--pod", pod, "--name", `${tag}lo`, "busybox", "httpd", "-f", "-p", "127.0.0.1:8081", "-h", "/etc"]);
    ok(["run", "-d", "--pod", id.slice(0, 12), "--name", `${tag}web`, "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"]);
    p = podInspect(pod);
    assert.equal(p.State, "Running");
    assert.deepEqual(p.Containers.map((c: { Name: string }) => c.Name).sort(), [`${tag}lo`, `${tag}web`]);
    const infra = p.InfraPid as number;
    assert.ok(infra > 0 && alive(infra));
    assert.equal(readFileSync(`/proc/${infra}/comm`, "utf8").trim(), "berth-pause"); // the C pause process, not Node
    // the containers are in the infra's network, IPC and UTS namespaces; each has its own PID namespace
    for (const c of [`${tag}lo`, `${tag}web`]) {
      const pid = pidOf(c);
      for (const t of ["net", "ipc", "uts"]) assert.equal(ns(pid, t), ns(infra, t), `${c}: ${t}`);
      assert.notEqual(ns(pid, "pid"), ns(infra, "pid"));
    }
    assert.ok(netnses().includes(`berth-${id.slice(0, 12)}`));
    // localhost of one container is localhost of the others; the host name is the pod's
    assert.equal(ok(["run", "--rm", "--pod", pod, "busybox", "wget", "-qO-", "http://127.0.0.1:8081/hostname"]), `${pod}\n`);
    assert.equal(ok(["exec", `${tag}web`, "hostname"]), `${pod}\n`);
    // the port published on the pod reaches the container that listens on it
    assert.deepEqual(await httpGet(hostPort, "/hostname"), { status: 200, body: `${pod}\n` });
    // berth port of a pod's container tells the pod's ports, as podman port does
    assert.equal(ok(["port", `${tag}web`]), `8080/tcp -> 127.0.0.1:${hostPort}\n`);
    assert.equal(ok(["port", `${tag}lo`, "8080"]), `127.0.0.1:${hostPort}\n`);
    // ps: the pod's containers by filter, and a PODNAME column
    assert.deepEqual(inPod(pod), [`${tag}lo`, `${tag}web`]);
    assert.match(ok(["ps", "--pod"]), new RegExp(`${tag}web\\s+${id.slice(0, 12)}\\s+${pod}`));
    // a container that has exited: the pod is degraded; pod logs names each line's container
    ok(["run", "--pod", pod, "--name", `${tag}echo`, "busybox", "echo", "hello from the pod"]);
    assert.match(ok(["pod", "ps"]), new RegExp(`${pod}\\s+Degraded\\s+.*\\s3\\n`));
    assert.equal(ok(["pod", "logs", pod]), `${tag}echo hello from the pod\n`);
    assert.equal(ok(["pod", "logs", "-c", `${tag}echo`, pod]), `${tag}echo hello from the pod\n`);
    ok(["rm", `${tag}echo`]);
    assert.equal(podInspect(pod).State, "Running");
  });

  test("pod stop stops its containers and its infra; pod start starts the infra, then the containers", async () => {
    const id = podInspect(pod).Id as string;
    const infra = podInspect(pod).InfraPid as number;
    assert.equal(ok(["pod", "stop", "-t", "1", pod]), `${id}\n`);
    assert.deepEqual(inPod(pod), []);
    assert.equal(alive(infra), false);
    assert.equal(podInspect(pod).State, "Exited");
    assert.equal(netnses().includes(`berth-${id.slice(0, 12)}`), false);
    assert.equal(ok(["pod", "start", pod]), `${id}\n`);
    const p = podInspect(pod);
    assert.equal(p.State, "Running");
    assert.ok(p.InfraPid > 0 && alive(p.InfraPid));
    assert.deepEqual(inPod(pod), [`${tag}lo`, `${tag}web`]);
    // the containers are in the new infra's namespaces, and localhost works again
    for (const t of ["net", "ipc", "uts"]) assert.equal(ns(pidOf(`${tag}web`), t), ns(p.InfraPid, t));
    assert.equal(ok(["exec", `${tag}web`, "wget", "-qO-", "http://127.0.0.1:8081/hostname"]), `${pod}\n`);
    assert.deepEqual(await httpGet(hostPort, "/hostname"), { status: 200, body: `${pod}\n` });
  });

  test("bad input: one line, exit 125, nothing made", () => {
    const before = ok(["ps", "-aq", "--no-trunc"]);
    const pods = ok(["pod", "ps", "-q", "--no-trunc"]);
    fails125(["run", "--rm", "--pod", "nosuch", "busybox", "true"], /^berth: no such pod: nosuch$/m);
    fails125(["create", "--pod", "nosuch", "busybox", "true"], /no such pod: nosuch/);
    fails125(["run", "--rm", "--pod", pod, "--network", "none", "busybox", "true"], /^berth: conflicting options: --network and --pod /m);
    fails125(["run", "--rm", "--pod", pod, "--network", "bridge", "busybox", "true"], /conflicting options: --network and --pod/);
    fails125(["run", "--rm", "--pod", pod, "-p", "8082:80", "busybox", "true"], /conflicting options: -p and --pod/);
    fails125(["run", "--rm", "--pod", pod, "--hostname", "other", "busybox", "true"], /conflicting options: --hostname and --pod/);
    fails125(["pod", "create", "--name", pod], new RegExp(`the pod name "${pod}" is already in use`));
    fails125(["pod", "create", "--name", `${tag}x`, "--share", "net,mnt"], /--share "mnt": expected a list of net, ipc, uts, pid/);
    fails125(["pod", "create", "--name", `${tag}x`, "--share", "ipc", "-p", "8082:80"], /-p: the pod does not share net/);
    fails125(["pod", "create", "--name", `${tag}x`, "--network", "nosuch"], /network nosuch not found/);
    fails125(["pod", "create", "--name", `${tag}x`, "-p", `127.0.0.1:${hostPort}:80`], new RegExp(`${hostPort} failed: port is already allocated`));
    fails125(["pod", "start", "nosuch"], /no such pod: nosuch/);
    assert.equal(ok(["ps", "-aq", "--no-trunc"]), before);
    assert.equal(ok(["pod", "ps", "-q", "--no-trunc"]), pods);
  });

  test("pod rm refuses running containers without -f; pod rm -f leaves no container, process, netns, link or iptables rule", () => {
    const p = podInspect(pod);
    const id = p.Id as string;
    const netns = `berth-${id.slice(0, 12)}`;
    const infra = p.InfraPid as number;
    const containers = p.Containers as { Id: string; Name: string }[];
    const pids = [infra, pidOf(`${tag}web`), pidOf(`${tag}lo`)];
    fails125(["pod", "rm", pod], new RegExp(`^berth: pod ${pod} has running containers \\(.*${tag}web.*\\): stop the pod first or remove it with -f$`, "m"));
    assert.equal(podInspect(pod).State, "Running");
    assert.ok(inPod(pod).includes(`${tag}web`), "nothing was removed");
    // the host end of the pod's veth: eth0@ifN in its netns is link N on the host
    const peer = /eth0@if(\d+)/.exec(run("ip", ["-n", netns, "-o", "link", "show", "eth0"]).stdout)?.[1];
    assert.ok(peer, "the pod's eth0 has a host peer");
    const hostLink = new RegExp(`^${peer}: ([^:@]+)`, "m").exec(run("ip", ["-o", "link", "show"]).stdout)?.[1];
    assert.ok(hostLink && links().includes(hostLink));
    const mine = (rules: string[]) => rules.filter((r) => r.includes(id.slice(0, 12)) || containers.some((c) => r.includes(c.Id.slice(0, 12))));
    assert.ok(mine(firewallRules()).length > 0, "the pod's port mapping has iptables rules");

    assert.equal(ok(["pod", "rm", "-f", pod]), `${id}\n`);
    fails125(["pod", "inspect", pod], /no such pod/);
    const left = ok(["ps", "-aq", "--no-trunc"]);
    for (const c of containers) assert.equal(left.includes(c.Id), false, `${c.Name} is not listed`);
    for (const c of containers) assert.equal(berth(["inspect", c.Id]).code, 125, `${c.Name} is gone`);
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} is gone`);
    assert.equal(netnses().includes(netns), false);
    assert.equal(links().includes(hostLink!), false, `link ${hostLink} is gone`);
    assert.deepEqual(mine(firewallRules()), []);
    const cache = path.join(root, "networks", "cache");
    assert.deepEqual(existsSync(cache) ? readdirSync(cache, { recursive: true }).map(String).filter((f) => f.includes(id)) : [], []);
    assert.equal(existsSync(path.join(runroot, "pods", id)), false);
  });

  test("--share pid: the pause process is PID 1 of the pod's containers; --hostname names the pod's host", () => {
    const q = `${tag}q`;
    ok(["pod", "create", "--name", q, "--share", "net,ipc,uts,pid", "--hostname", "podhost", "--network", "none"]);
    ok(["run", "-d", "--pod", q, "--name", `${tag}sleep`, "busybox", "sleep", "300"]);
    const out = ok(["run", "--rm", "--pod", q, "busybox", "sh", "-c", "hostname; ps -o pid,comm"]);
    const [hostname, , ...procs] = out.trimEnd().split("\n");
    assert.equal(hostname, "podhost");
    assert.deepEqual(procs.map((l) => l.trim().split(/\s+/)[1]).slice(0, 2), ["berth-pause", "sleep"]);
    assert.match(procs[0]!, /^\s*1\s+berth-pause$/);
    // --network none: loopback only, up
    assert.match(ok(["run", "--rm", "--pod", q, "busybox", "ip", "-o", "link"]), /^1: lo: <LOOPBACK,UP,LOWER_UP>[^\n]*\n$/);
    const infra = podInspect(q).InfraPid as number;
    ok(["pod", "rm", "-f", q]);
    assert.equal(alive(infra), false);
  });

  test("pod logs -f follows every container of the pod, lines as they come, and ends when they have all exited", async () => {
    const f = `${tag}f`;
    const gate = path.join(dir, "gate");
    mkdirSync(gate);
    ok(["pod", "create", "--name", f, "--network", "none"]);
    // each prints a line, waits for the test's go file, prints another and exits
    for (const c of ["a", "b"]) {
      ok(["run", "-d", "--pod", f, "--name", `${tag}${c}`, "-v", `${gate}:/gate`, "busybox", "sh", "-c", `echo ${c}1; while [ ! -e /gate/go ]; do sleep 0.1; done; echo ${c}2`]);
    }
    const child = spawn(BERTH, ["--root", root, "--runroot", runroot, "pod", "logs", "-f", f], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000); // bounded, whatever happens
    try {
      // both first lines arrive while both containers still run
      for (let i = 0; i < 200 && !(out.includes(`${tag}a a1\n`) && out.includes(`${tag}b b1\n`)); i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(out.split("\n").filter(Boolean).sort(), [`${tag}a a1`, `${tag}b b1`], err);
      writeFileSync(path.join(gate, "go"), "");
      assert.equal(await exited, 0, err);
    } finally {
      clearTimeout(timer);
    }
    const lines = out.split("\n").filter(Boolean);
    assert.deepEqual([...lines].sort(), [`${tag}a a1`, `${tag}a a2`, `${tag}b b1`, `${tag}b b2`]);
    // each container's own order kept
    for (const c of ["a", "b"]) assert.ok(lines.indexOf(`${tag}${c} ${c}1`) < lines.indexOf(`${tag}${c} ${c}2`), out);
    ok(["pod", "rm", "-f", f]);
  });
});
