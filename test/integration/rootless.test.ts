// Unprivileged berth (README "Unprivileged berth"): a throwaway user with /etc/subuid and
// /etc/subgid ranges runs bin/berth through runuser: bootstrap, run --rm, run -d + exec +
// stop + rm, a file made by the container's root owned by the range's first id on the host,
// limits dropped with one warning, and one-line errors (exit 125, nothing made) for a user
// without ranges, a range too small, a missing newuidmap and an image owning files by an id
// outside the range. At the end the users, their pause processes (by pid) and files go.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, isRoot } from "../helpers/oci.js";
import { serve } from "../helpers/registry-serve.js";

const BERTH = path.join(REPO, "bin", "berth");

function onPath(name: string): boolean {
  return (process.env.PATH ?? "/usr/bin:/bin").split(":").some((d) => existsSync(path.join(d, name)));
}

/** Another user can run this checkout only if every directory above it may be searched. */
function readableByOthers(): boolean {
  for (let d = path.resolve(REPO); ; d = path.dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === "/") break;
  }
  return (statSync(BERTH).mode & 0o005) === 0o005;
}

const skip = !isRoot
  ? "needs root (it makes a throwaway user with useradd)"
  : !onPath("newuidmap") || !onPath("newgidmap")
    ? "needs newuidmap and newgidmap (Debian's uidmap package: ./scripts/setup installs it)"
    : !onPath("useradd") || !onPath("runuser")
      ? "needs useradd and runuser"
      : !readableByOthers()
        ? `needs ${REPO} readable by other users (the throwaway user runs bin/berth from it)`
        : false;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};

interface User {
  name: string;
  uid: number;
  gid: number;
  home: string;
  runtimeDir: string;
}

/** A user with a home, its own XDG_RUNTIME_DIR and, when `range` is given, that subuid/subgid range. */
function makeUser(name: string, range?: { start: number; count: number }): User {
  // -K …=0: no automatic ranges, the test decides them
  run("useradd", ["-m", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name]);
  const uid = Number(run("id", ["-u", name]).trim());
  const gid = Number(run("id", ["-g", name]).trim());
  if (range) {
    const r = `${range.start}-${range.start + range.count - 1}`;
    run("usermod", ["--add-subuids", r, "--add-subgids", r, name]);
  }
  const runtimeDir = mkdtempSync(path.join(tmpdir(), `berth-rootless-${name}-`));
  chownSync(runtimeDir, uid, gid);
  return { name, uid, gid, home: `/home/${name}`, runtimeDir };
}

function pausePid(u: User): number | undefined {
  try {
    return Number(readFileSync(path.join(u.runtimeDir, "berth", "pause.pid"), "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

function removeUser(u: User): void {
  const pid = pausePid(u);
  if (pid) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
    for (let i = 0; i < 500 && existsSync(`/proc/${pid}`); i++) spawnSync("sleep", ["0.01"]);
  }
  spawnSync("userdel", ["-r", "-f", u.name], { encoding: "utf8" });
  for (const f of ["/etc/subuid", "/etc/subgid"]) {
    const text = readFileSync(f, "utf8");
    const kept = text.split("\n").filter((l) => !l.startsWith(`${u.name}:`));
    if (kept.length !== text.split("\n").length) writeFileSync(f, kept.join("\n"));
  }
  rmSync(u.home, { recursive: true, force: true });
  rmSync(u.runtimeDir, { recursive: true, force: true });
}

/**
 * bin/berth as the user, with its own XDG directories (and PATH and more variables when given);
 * started in the cgroup v2 directory `cgroup` when given (root moves it there first, as systemd
 * starts a user's processes in the user@UID.service it delegates).
 */
function berthAs(u: User, args: string[], opts: { path?: string; env?: string[]; cgroup?: string } = {}) {
  const env = [`HOME=${u.home}`, `XDG_RUNTIME_DIR=${u.runtimeDir}`, `XDG_DATA_HOME=${u.home}/.local/share`, `PATH=${opts.path ?? process.env.PATH ?? "/usr/bin:/bin"}`, "LANG=C", ...(opts.env ?? [])];
  const cmd = ["runuser", "-u", u.name, "--", "/usr/bin/env", "-i", ...env, process.execPath, BERTH, ...args];
  const into = opts.cgroup ? ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', opts.cgroup] : [];
  const r = spawnSync([...into, ...cmd][0]!, [...into, ...cmd].slice(1), { encoding: "utf8", cwd: "/" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Where this host mounts the cgroup2 hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified when hybrid). */
function cgroup2Mount(): string | undefined {
  for (const l of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = l.split(" - ");
    if (post?.startsWith("cgroup2 ") && pre!.split(" ")[3] === "/") return pre!.split(" ")[4];
  }
  return undefined;
}

/** Moves every process of a cgroup v2 tree to the hierarchy's root and removes the tree. */
function removeCgroupTree(mount: string, dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(mount, path.join(dir, e.name));
  for (const pid of readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
    try {
      writeFileSync(path.join(mount, "cgroup.procs"), pid);
    } catch {
      // gone meanwhile
    }
  }
  rmdirSync(dir);
}

/** A free subordinate range above every one /etc/subuid and /etc/subgid already give. */
function freeRangeStart(): number {
  let top = 500_000;
  for (const f of ["/etc/subuid", "/etc/subgid"]) {
    for (const l of readFileSync(f, "utf8").split("\n")) {
      const [, s, c] = l.split(":");
      if (s && c) top = Math.max(top, Number(s) + Number(c));
    }
  }
  return top;
}

describe("unprivileged berth", { skip }, () => {
  const tag = String(process.pid % 100000);
  let user: User;
  let start: number;
  const ok = (args: string[]) => {
    const r = berthAs(user, args);
    assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const dataRoot = () => path.join(user.home, ".local/share/berth");
  /** the user's mounts, as its namespace (held by the pause process) sees them */
  const nsMounts = () => {
    const pid = pausePid(user);
    return pid ? readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").filter((l) => l.includes(dataRoot()) || l.includes(user.runtimeDir)) : [];
  };

  before(() => {
    start = freeRangeStart();
    user = makeUser(`berthrl${tag}`, { start, count: 65536 });
  });
  after(() => {
    if (!user) return;
    const ids = berthAs(user, ["ps", "-aq"]).stdout.split("\n").filter(Boolean);
    for (const id of ids) berthAs(user, ["rm", "-f", id]);
    removeUser(user);
  });

  test("bootstrap busybox as the user: the image's files are owned by the user's range on the host", () => {
    ok(["bootstrap", "busybox"]);
    assert.match(ok(["images"]), /^busybox\s+latest\s/m);
    const pid = pausePid(user);
    assert.ok(pid && existsSync(`/proc/${pid}`), "the pause process holds the namespace");
    assert.equal(readFileSync(`/proc/${pid}/comm`, "utf8"), "berth-pause\n");
    assert.equal(readFileSync(`/proc/${pid}/uid_map`, "utf8").trim().split(/\s+/).join(" "), `0 ${start} 65536 65536 ${user.uid} 1`);
    // image uid 0 is the range's first id on the host
    const layers = path.join(dataRoot(), "snapshots", "overlay");
    const layer = readdirSync(layers).find((d) => existsSync(path.join(layers, d, "fs", "bin")));
    assert.ok(layer, "an unpacked layer");
    assert.equal(statSync(path.join(layers, layer, "fs", "bin")).uid, start);
  });

  test("run --rm busybox echo hi as the user", () => {
    const r = berthAs(user, ["run", "--rm", "busybox", "echo", "hi"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.stderr, "");
    assert.equal(ok(["ps", "-aq"]), "");
    assert.deepEqual(nsMounts(), []);
    // root in the container; no network of its own but loopback (the default for the user)
    assert.equal(ok(["run", "--rm", "busybox", "sh", "-c", "id -u; ls /sys/class/net"]), "0\nlo\n");
    assert.equal(ok(["run", "--rm", "--network", "host", "busybox", "hostname"]), readFileSync("/proc/sys/kernel/hostname", "utf8"));
  });

  test("run -d + exec + stop + rm; a file made by the container's root is the range's first id on the host", () => {
    const id = ok(["run", "-d", "--name", "d1", "busybox", "sh", "-c", "echo made > /by-root; exec sleep 1000"]).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(ok(["exec", "d1", "cat", "/by-root"]), "made\n");
    assert.equal(ok(["exec", "d1", "id", "-u"]), "0\n");
    const pid = Number(ok(["inspect", "-f", "{{.State.Pid}}", "d1"]).trim());
    const uidLine = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("Uid:"));
    assert.equal(uidLine?.split(/\s+/)[1], String(start), "the container's root runs as the range's first id");
    const upper = path.join(dataRoot(), "snapshots", "overlay", "active", id, "upper", "by-root");
    const st = statSync(upper);
    assert.equal(st.uid, start);
    assert.equal(st.gid, start);
    assert.equal(readFileSync(upper, "utf8"), "made\n");
    ok(["stop", "-t", "1", "d1"]);
    assert.match(ok(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]), /^d1 Exited \(137\)/);
    assert.equal(existsSync(`/proc/${pid}`), false);
    ok(["rm", "d1"]);
    assert.equal(ok(["ps", "-aq"]), "");
    assert.deepEqual(nsMounts(), []);
    assert.equal(existsSync(path.join(dataRoot(), "snapshots", "overlay", "active", id)), false);
  });

  test("build as the user: RUN steps, a deleted file and a replaced directory (whiteouts in the user's namespace)", () => {
    const ctx = mkdtempSync(path.join(tmpdir(), "berth-rootless-ctx-"));
    try {
      writeFileSync(
        path.join(ctx, "Dockerfile"),
        'FROM busybox\nRUN echo built > /built && mkdir /x && touch /x/old && echo "bob:x:1234:1234::/:/bin/sh" >> /etc/passwd\nRUN rm -rf /x && mkdir /x && touch /x/new && rm /bin/ls\nUSER bob\nCMD ["cat", "/built"]\n',
      );
      run("chown", ["-R", `${user.uid}:${user.gid}`, ctx]);
      const r = berthAs(user, ["build", "-q", "-t", "mine", ctx]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(ok(["run", "--rm", "mine"]), "built\n");
      assert.equal(ok(["run", "--rm", "mine", "sh", "-c", "id -u; ls /x; test -e /bin/ls || echo no-ls"]), "1234\nnew\nno-ls\n");
      ok(["rmi", "mine"]);
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });

  test("push to and pull from a loopback registry as the user", async () => {
    const storage = mkdtempSync(path.join(tmpdir(), "berth-rootless-reg-"));
    const reg = await serve(["--storage", storage]);
    try {
      const ref = `${reg.host}/rootless/bb:1`;
      ok(["push", "-q", "busybox", ref]);
      assert.equal(ok(["pull", "-q", ref]), `${ref}\n`);
      ok(["rmi", ref]);
      assert.doesNotMatch(ok(["images"]), /rootless\/bb/);
      assert.equal(ok(["pull", "-q", ref]), `${ref}\n`);
      assert.equal(ok(["run", "--rm", ref, "echo", "pulled"]), "pulled\n");
      ok(["rmi", ref]);
    } finally {
      await reg.stop();
      rmSync(storage, { recursive: true, force: true });
    }
  });

  test("--network slirp4netns: its own address, DNS, -p and -P through slirp4netns; slirp4netns ends with the container", { skip: onPath("slirp4netns") ? false : "needs slirp4netns (./scripts/setup installs it)" }, async () => {
    const tunMode = statSync("/dev/net/tun").mode & 0o777;
    try {
      if ((tunMode & 0o006) !== 0o006) {
        // as this host has it: refused in one line before anything is made
        const r = berthAs(user, ["run", "--rm", "--network", "slirp4netns", "busybox", "true"]);
        assert.equal(r.code, 125);
        assert.equal(r.stderr, "berth: --network slirp4netns: /dev/net/tun is not open to this user (Debian makes it 0666; here it is not): as root, `chmod 0666 /dev/net/tun`\n");
        assert.equal(ok(["ps", "-aq"]), "");
        // Debian's default, for the rest of this test only (restored below)
        chmodSync("/dev/net/tun", 0o666);
      }
      assert.equal(
        ok(["run", "--rm", "--network", "slirp4netns", "busybox", "sh", "-c", "ip -4 -o addr show tap0 | cut -d' ' -f7; grep nameserver /etc/resolv.conf"]),
        "10.0.2.100/24\nnameserver 10.0.2.3\n",
      );
      const port = await freePort();
      ok(["run", "-d", "--name", "web", "--network", "slirp4netns", "-p", `127.0.0.1:${port}:8080`, "busybox", "sh", "-c", "mkdir /www && echo hello-slirp > /www/index.html && exec httpd -f -p 8080 -h /www"]);
      let body = "";
      for (let i = 0; i < 100 && body === ""; i++) {
        body = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()).catch(() => "");
        if (body === "") await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(body, "hello-slirp\n");
      const slirps = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`slirp4netns\0--configure`) && readFileSync(`/proc/${p}/cmdline`, "utf8").includes(user.runtimeDir) && !readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z "));
      assert.equal(slirps().length, 1);
      ok(["stop", "-t", "1", "web"]);
      ok(["rm", "web"]);
      assert.deepEqual(slirps(), []);
      // -P: the image's EXPOSEd port on a free host port, as `berth port` tells
      const ctx = mkdtempSync(path.join(tmpdir(), "berth-rootless-expose-"));
      try {
        writeFileSync(path.join(ctx, "Dockerfile"), 'FROM busybox\nEXPOSE 8080\nCMD ["sh", "-c", "mkdir /www && echo hello-P > /www/index.html && exec httpd -f -p 8080 -h /www"]\n');
        run("chown", ["-R", `${user.uid}:${user.gid}`, ctx]);
        ok(["build", "-q", "-t", "exposed", ctx]);
      } finally {
        rmSync(ctx, { recursive: true, force: true });
      }
      ok(["run", "-d", "--name", "web2", "--network", "slirp4netns", "-P", "exposed"]);
      const mapped = ok(["port", "web2", "8080/tcp"]);
      assert.match(mapped, /^0\.0\.0\.0:\d+\n$/);
      const hostPort = Number(mapped.trim().split(":")[1]);
      body = "";
      for (let i = 0; i < 100 && body === ""; i++) {
        body = await fetch(`http://127.0.0.1:${hostPort}/`).then((r) => r.text()).catch(() => "");
        if (body === "") await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(body, "hello-P\n");
      ok(["rm", "-f", "web2"]);
      ok(["rmi", "exposed"]);
      assert.deepEqual(slirps(), []);
    } finally {
      chmodSync("/dev/net/tun", tunMode);
    }
  });

  test("limits without delegated cgroups: one warning, the container runs", () => {
    const r = berthAs(user, ["run", "--rm", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "10", "busybox", "echo", "ok"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "ok\n");
    assert.equal(r.stderr, "berth: warning: cgroups are not delegated to this user: running without limits\n");
  });

  test("a cgroup v2 tree delegated to the user holds its containers' cgroups; limits its controllers lack go with one warning naming them", { skip: cgroup2Mount() ? false : "needs a cgroup2 mount" }, () => {
    const mount = cgroup2Mount()!;
    const name = `berth-delegated-${tag}`;
    const delegated = path.join(mount, name);
    mkdirSync(delegated);
    try {
      // delegated as systemd delegates user@UID.service: the directory and these three files are the user's
      for (const f of ["", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"]) chownSync(path.join(delegated, f), user.uid, user.gid);
      // this host is hybrid (its controllers are on cgroup v1): BERTH_CGROUP_MODE=v2 puts containers in the cgroup2 mount
      const as = (args: string[]) => berthAs(user, args, { cgroup: delegated, env: ["BERTH_CGROUP_MODE=v2"] });
      const r = as(["run", "-d", "--name", "dg", "busybox", "sleep", "1000"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, "");
      const id = r.stdout.trim();
      const pid = Number(ok(["inspect", "-f", "{{.State.Pid}}", "dg"]).trim());
      assert.equal(/^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, "utf8"))?.[1], `/${name}/berth/${id}`, "the container's init, seen from the host");
      assert.deepEqual(readFileSync(path.join(delegated, "berth", id, "cgroup.procs"), "utf8").split("\n").filter(Boolean), [String(pid)]);
      // pause freezes that cgroup (cgroup.freeze, no controller needed)
      for (const [verb, frozen, status] of [["pause", "1", /^Up .* \(Paused\)$/], ["unpause", "0", /^Up /]] as const) {
        const p = as([verb, "dg"]);
        assert.equal(p.code, 0, p.stderr);
        assert.equal(readFileSync(path.join(delegated, "berth", id, "cgroup.freeze"), "utf8"), `${frozen}\n`, verb);
        assert.match(ok(["ps", "--format", "{{.Status}}"]).trim(), status);
      }
      const rm = as(["rm", "-f", "dg"]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal(existsSync(path.join(delegated, "berth", id)), false, "its cgroup goes with it");
      // the limits the delegated controllers can enforce stay; the others are named in one warning
      const have = readFileSync(path.join(delegated, "cgroup.controllers"), "utf8").split(/\s+/);
      const missing = ["memory", "pids"].filter((c) => !have.includes(c));
      const l = as(["run", "--rm", "--memory", "64m", "--pids-limit", "50", "busybox", "echo", "limited"]);
      assert.equal(l.code, 0, l.stderr);
      assert.equal(l.stdout, "limited\n");
      assert.equal(l.stderr, missing.length ? `berth: warning: cgroup controllers ${missing.join(", ")} are not delegated to this user (/${name}): running without those limits\n` : "");
    } finally {
      removeCgroupTree(mount, delegated);
    }
    assert.equal(ok(["ps", "-aq"]), "");
  });

  test("an image owning a file by a uid outside the range: one line naming the uid and the range, nothing made", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "berth-rootless-img-"));
    try {
      mkdirSync(path.join(dir, "fs", "etc"), { recursive: true });
      writeFileSync(path.join(dir, "fs", "etc", "big"), "x\n");
      const tar = path.join(dir, "big.tar");
      run("tar", ["-C", path.join(dir, "fs"), "--owner=0", "--group=0", "-cf", tar, "."]);
      run("tar", ["-C", path.join(dir, "fs"), "--owner=70000", "--group=0", "-rf", tar, "./etc/big"]);
      // the user's own, so that root of its namespace (which maps the user) may read it
      chownSync(dir, user.uid, user.gid);
      const before = ok(["images", "-q"]);
      const r = berthAs(user, ["import", tar, "big:1"]);
      assert.equal(r.code, 125);
      assert.equal(
        r.stderr,
        `berth: layer: "./etc/big" is owned by uid 70000, outside the 65536 uids this user's namespace maps (0-65535, from the /etc/subuid range ${start}-${start + 65535}): the image needs a range of at least 70001 ids in /etc/subuid\n`,
      );
      assert.equal(ok(["images", "-q"]), before);
      const tmp = path.join(dataRoot(), "snapshots", "overlay", "tmp");
      assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a user without ranges, with too small a range, or without newuidmap: one line, exit 125, nothing made", () => {
    const bare = makeUser(`berthrn${tag}`);
    const small = makeUser(`berthrs${tag}`, { start: start + 65536, count: 1000 });
    const noTool = mkdtempSync(path.join(tmpdir(), "berth-rootless-path-"));
    try {
      let r = berthAs(bare, ["images"]);
      assert.equal(r.code, 125);
      assert.equal(r.stderr, `berth: ${bare.name} has no range in /etc/subuid: add one, e.g. \`usermod --add-subuids 100000-165535 ${bare.name}\`\n`);
      assert.equal(existsSync(path.join(bare.home, ".local/share/berth")), false);
      assert.equal(existsSync(path.join(bare.runtimeDir, "berth")), false);

      r = berthAs(small, ["run", "--rm", "busybox", "true"]);
      assert.equal(r.code, 125);
      assert.equal(
        r.stderr,
        `berth: ${small.name}'s range in /etc/subuid has 1000 ids (${start + 65536}-${start + 65536 + 999}), fewer than the 65536 berth needs: add one, e.g. \`usermod --add-subuids 100000-165535 ${small.name}\`\n`,
      );
      assert.equal(existsSync(path.join(small.runtimeDir, "berth")), false);

      // a PATH with node but no newuidmap
      symlinkSync(process.execPath, path.join(noTool, "node"));
      r = berthAs(user, ["images"], { path: noTool });
      assert.equal(r.code, 125);
      assert.equal(r.stderr, "berth: newuidmap is not installed: an unprivileged berth needs it to map /etc/subuid and /etc/subgid (apt-get install uidmap)\n");
    } finally {
      removeUser(bare);
      removeUser(small);
      rmSync(noTool, { recursive: true, force: true });
    }
  });
});
