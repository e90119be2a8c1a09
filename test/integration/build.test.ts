// berth build as a user types it, on a throwaway --root with busybox (debian with
// BERTH_TEST_DEBIAN=1): stages, substitution, WORKDIR/USER, ADD, .dockerignore, ONBUILD, the
// cache (what runs again and what does not), the image's config and `berth run` of it, and bad
// input: one line, exit 125, no container, snapshot, mount or cgroup left behind.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";
import { berthCli } from "../helpers/berth.js";

const BERTH = path.join(REPO, "bin", "berth");

describe("berth build", { skip: rootSkip }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const { berth, ok, fails125 } = berthCli(BERTH, () => ({ root, runroot }), 120_000);
  let n = 0;

  /** A context directory with these files (a Dockerfile among them). */
  const context = (files: Record<string, string>): string => {
    const c = path.join(dir, `ctx${++n}`);
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(c, f)), { recursive: true });
      writeFileSync(path.join(c, f), text);
    }
    return c;
  };
  /** builds, asserts exit 0, returns the progress (stderr) */
  const build = (args: string[]): string => {
    const r = berth(["build", "--progress=plain", ...args]);
    assert.equal(r.code, 0, `build ${args.join(" ")}: ${r.stderr}`);
    return r.stderr;
  };
  const run = (args: string[]) => ok(["run", "--rm", ...args]);
  const config = (img: string) => JSON.parse(ok(["image", "inspect", img]))[0].Config;
  /** the step lines: "#N [stage k/n] TEXT" -> whether it was CACHED */
  const steps = (progress: string): Record<string, boolean> => {
    const out: Record<string, boolean> = {};
    for (const m of progress.matchAll(/^#(\d+) \[[^\]]+\] (.*)$/gm)) out[m[2]!] = new RegExp(`^#${m[1]} CACHED$`, "m").test(progress);
    return out;
  };
  /** nothing a build leaves: no container record, active snapshot, mount, runtime state, cgroup */
  const clean = () => {
    // `run --rm` containers are removed by their monitors' cleanup: a bounded wait for it
    for (let i = 0; i < 50 && ok(["ps", "-aq"]) !== ""; i++) spawnSync("sleep", ["0.1"]);
    assert.equal(ok(["ps", "-aq"]), "", "no containers");
    assert.deepEqual(readdirSync(path.join(root, "snapshots", "overlay", "active")), [], "no active snapshots");
    assert.deepEqual(existsSync(path.join(runroot, "build")) ? readdirSync(path.join(runroot, "build")) : [], [], "no build dirs");
    assert.deepEqual(existsSync(path.join(runroot, "runtime")) ? readdirSync(path.join(runroot, "runtime")) : [], [], "no runtime state");
    assert.deepEqual(readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(runroot) || l.includes(root)), [], "no mounts");
    for (const c of ["memory", "pids", "freezer"]) {
      const d = `/sys/fs/cgroup/${c}/berth`;
      if (existsSync(d)) assert.deepEqual(readdirSync(d).filter((e) => e.startsWith("build-")), [], `no ${c} cgroups`);
    }
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-build-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    ok(["bootstrap", "busybox"]);
  });
  after(() => {
    // whatever a failed test left, and the monitors' cleanups still under way
    for (let i = 0; i < 50 && ok(["ps", "-aq"]) !== ""; i++) spawnSync("sleep", ["0.1"]);
    for (const id of ok(["ps", "-aq"]).split("\n").filter(Boolean)) berth(["rm", "-f", id]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  test("multi-stage: the final stage copies an artifact built in the first; --target builds the first alone", () => {
    const c = context({
      Dockerfile: [
        "FROM busybox AS builder",
        "WORKDIR /src",
        "RUN printf '#!/bin/sh\\necho built artifact says $1\\n' > app && chmod 755 app",
        "FROM busybox",
        "COPY --from=builder /src/app /usr/local/bin/app",
        'ENTRYPOINT ["app"]',
        'CMD ["hello"]',
      ].join("\n"),
    });
    build(["-t", "multi", c]);
    assert.equal(run(["multi"]), "built artifact says hello\n");
    assert.equal(run(["multi", "bye"]), "built artifact says bye\n");
    assert.equal(berth(["run", "--rm", "--entrypoint", "ls", "multi", "/src"]).code, 1, "the builder's files are not in the final image");
    build(["--target", "builder", "-t", "multi-builder", c]);
    assert.equal(run(["multi-builder", "/src/app", "x"]), "built artifact says x\n");
    clean();
  });

  test("ENV and ARG substitution: FROM args, defaults, --build-arg, modifiers, an unset arg is empty", () => {
    const c = context({
      Dockerfile: [
        "ARG BASE=none",
        "FROM ${BASE}",
        "ARG GIVEN=default",
        "ARG DEFAULTED=fromdefault",
        "ARG MISSING",
        "ENV APP=/opt/app NAME=\"two words\"",
        "ENV FULL=${APP}/bin ALT=${MISSING:-alt} PLUS=${APP:+set}",
        "WORKDIR $APP",
        'RUN echo "given=$GIVEN defaulted=$DEFAULTED missing=[$MISSING] full=$FULL name=$NAME" > /out',
        "LABEL version=$GIVEN",
        'SHELL ["/bin/sh", "-ec"]',
        "RUN <<EOF",
        "echo \"heredoc sees $FULL and shell -ec: $-\" > /heredoc",
        "EOF",
        "COPY <<EOF /copied.txt",
        "copied ${APP} from a heredoc",
        "EOF",
      ].join("\n"),
    });
    build(["--build-arg", "BASE=busybox", "--build-arg", "GIVEN=fromflag", "-t", "subst", c]);
    assert.equal(run(["subst", "cat", "/out"]), "given=fromflag defaulted=fromdefault missing=[] full=/opt/app/bin name=two words\n");
    const cfg = config("subst");
    assert.ok(cfg.Env.includes("FULL=/opt/app/bin") && cfg.Env.includes("ALT=alt") && cfg.Env.includes("PLUS=set") && cfg.Env.includes("NAME=two words"), JSON.stringify(cfg.Env));
    assert.equal(cfg.WorkingDir, "/opt/app");
    assert.equal(cfg.Labels.version, "fromflag");
    assert.equal(cfg.Env.some((e: string) => e.startsWith("GIVEN=")), false, "ARGs are not in the image's Env");
    assert.deepEqual(cfg.Shell, ["/bin/sh", "-ec"]);
    assert.match(run(["subst", "cat", "/heredoc"]), /^heredoc sees \/opt\/app\/bin and shell -ec: \w*e\w*\n$/);
    assert.equal(run(["subst", "cat", "/copied.txt"]), "copied /opt/app from a heredoc\n");
    // an unused --build-arg is a warning, as Docker's
    assert.match(build(["--build-arg", "BASE=busybox", "--build-arg", "NOPE=1", c]), /build-args \[NOPE\] were not consumed/);
  });

  test("WORKDIR is created and used, USER runs the next steps, --chown and --chmod set what COPY writes", () => {
    const c = context({
      "f.txt": "data\n",
      Dockerfile: [
        "FROM busybox",
        "WORKDIR /w/x",
        "WORKDIR y",
        "RUN pwd > /pwd",
        "COPY --chown=1000:1001 --chmod=640 f.txt ./",
        "USER 1000:1001",
        "RUN id -u > /tmp/uid && id -g >> /tmp/uid && touch /w/x/y/nope 2>/dev/null || echo denied > /tmp/denied",
        "WORKDIR /w/mine",
        "RUN touch made-by-user",
      ].join("\n"),
    });
    build(["-t", "wu", c]);
    assert.equal(run(["wu", "cat", "/pwd"]), "/w/x/y\n");
    assert.equal(run(["wu", "cat", "/tmp/uid"]), "1000\n1001\n");
    assert.equal(run(["wu", "cat", "/tmp/denied"]), "denied\n");
    assert.match(run(["wu", "ls", "-ln", "/w/x/y/f.txt"]), /^-rw-r-----\s+1 1000\s+1001\s/);
    // a WORKDIR made after USER belongs to that user (BuildKit), so the user can write there
    assert.match(run(["wu", "ls", "-lnd", "/w/mine"]), /^d\S+\s+\d+ 1000\s+1001\s/);
    assert.match(run(["wu", "ls", "-ln", "/w/mine/made-by-user"]), /^-\S+\s+1 1000\s+1001\s/);
    assert.equal(run(["wu", "pwd"]), "/w/mine\n");
    assert.equal(run(["wu", "id", "-u"]), "1000\n");
    const cfg = config("wu");
    assert.equal(cfg.User, "1000:1001");
    assert.equal(cfg.WorkingDir, "/w/mine");
  });

  test("ADD of a local tar extracts it; ADD of a URL (127.0.0.1) fetches the file; .dockerignore keeps files out", async () => {
    const c = context({
      "keep.txt": "keep\n",
      "secret.txt": "secret\n",
      "logs/a.log": "log\n",
      "logs/important.log": "important\n",
      ".dockerignore": "# not these\nsecret.txt\nlogs/*.log\n!logs/important.log\n",
      Dockerfile: ["FROM busybox", "ADD t.tar.gz /ext/", "COPY . /ctx/", "ADD http://127.0.0.1:PORT/remote.txt /remote/"].join("\n"),
    });
    mkdirSync(path.join(dir, "tarsrc/sub"), { recursive: true });
    writeFileSync(path.join(dir, "tarsrc/sub/inner.txt"), "from the tar\n");
    assert.equal(spawnSync("tar", ["-czf", path.join(c, "t.tar.gz"), "-C", path.join(dir, "tarsrc"), "."]).status, 0);
    const server = createServer((req, res) => {
      if (req.url === "/remote.txt") res.end("remote content\n");
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      writeFileSync(path.join(c, "Dockerfile"), readFileSync(path.join(c, "Dockerfile"), "utf8").replace("PORT", String(port)));
      // the server answers in this process: berth runs without blocking it
      const buildAsync = async (ctx: string) => {
        const child = spawn(BERTH, ["--root", root, "--runroot", runroot, "build", "-q", "-t", "adds", ctx], { stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        const code = await new Promise<number>((r) => child.on("close", (x) => r(x ?? -1)));
        return { code, stderr };
      };
      const r = await buildAsync(c);
      assert.equal(r.code, 0, r.stderr);
      // --checksum is checked against what was fetched
      const bad = context({ Dockerfile: `FROM busybox\nADD --checksum=sha256:${"0".repeat(64)} http://127.0.0.1:${port}/remote.txt /r\n` });
      const b = await buildAsync(bad);
      assert.equal(b.code, 125);
      assert.match(b.stderr, /^berth: Dockerfile:2: ADD http:\/\/127\.0\.0\.1:\d+\/remote\.txt: checksum mismatch: expected sha256:0+, got sha256:[0-9a-f]{64}\n$/);
    } finally {
      server.close();
    }
    assert.equal(run(["adds", "cat", "/ext/sub/inner.txt"]), "from the tar\n");
    assert.equal(run(["adds", "cat", "/remote/remote.txt"]), "remote content\n");
    assert.match(run(["adds", "ls", "-l", "/remote/remote.txt"]), /^-rw-------/);
    assert.equal(run(["adds", "find", "/ctx", "-type", "f"]).split("\n").filter(Boolean).sort().join(" "), "/ctx/.dockerignore /ctx/Dockerfile /ctx/keep.txt /ctx/logs/important.log /ctx/t.tar.gz");
  });

  test("FROM scratch with COPY --from an image, exec-form RUN, the proxy args, VOLUME, wildcards", () => {
    const c = context({
      "a1.txt": "one\n",
      "a2.txt": "two\n",
      "b.txt": "not copied\n",
      Dockerfile: [
        "FROM scratch",
        "COPY --from=busybox /bin/busybox /bin/busybox",
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'RUN ["/bin/sh", "-c", "echo proxy=$HTTP_PROXY > /proxy"]',
        "COPY a?.txt /data/",
        "VOLUME /data",
        'CMD ["/bin/sh", "-c", "cat /proxy /data/*"]',
      ].join("\n"),
    });
    const progress = build(["--build-arg", "HTTP_PROXY=http://127.0.0.1:3128", "-t", "scratchy", c]);
    assert.doesNotMatch(progress, /not consumed/, "the proxy args need no ARG");
    assert.equal(run(["scratchy"]), "proxy=http://127.0.0.1:3128\none\ntwo\n");
    assert.deepEqual(config("scratchy").Volumes, { "/data": {} });
    const history = ok(["history", "--no-trunc", "--format", "{{.CreatedBy}}", "scratchy"]);
    assert.doesNotMatch(history, /127\.0\.0\.1:3128/, "proxy args stay out of the history");
    assert.equal(history.trim().split("\n").length, 6, "scratch has no history of its own");
  });

  test("a base image the store lacks is pulled from its registry (berth registry serve on 127.0.0.1); --pull asks it again", async () => {
    const server = spawn(BERTH, ["--root", path.join(dir, "reg-root"), "--runroot", path.join(dir, "reg-run"), "registry", "serve", "--addr", "127.0.0.1:0", "--storage", path.join(dir, "reg")], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        server.stdout.on("data", (d) => {
          out += d;
          const m = /http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        server.on("exit", (code) => reject(new Error(`registry exited ${code}`)));
      });
      const ref = `${url}/lib/bb:1`;
      // the name lives only in the registry: the store has busybox, not this name
      const push = spawn(BERTH, ["--root", root, "--runroot", runroot, "push", "-q", "busybox", ref], { stdio: ["ignore", "pipe", "pipe"] });
      assert.equal(await new Promise((r) => push.on("close", r)), 0);
      const c = context({ Dockerfile: `FROM ${ref}\nRUN echo on-a-pulled-base > /x\nCMD ["cat", "/x"]\n` });
      const child = spawn(BERTH, ["--root", root, "--runroot", runroot, "build", "--progress=plain", "-t", "pulled", c], { stdio: ["ignore", "pipe", "pipe"] });
      let progress = "";
      child.stderr.on("data", (d) => (progress += d));
      assert.equal(await new Promise((r) => child.on("close", r)), 0, progress);
      assert.match(progress, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/lib\/bb:1/);
      assert.equal(run(["pulled"]), "on-a-pulled-base\n");
      assert.match(ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]), new RegExp(`^${ref.replace(/[.]/g, "\\.")}$`, "m"));
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => (server.exitCode !== null ? r(null) : server.on("exit", r)));
    }
    // the registry is gone: a plain rebuild uses the store, --pull asks the registry and fails in one line
    const c2 = path.join(dir, `ctx${n}`);
    build(["-q", c2]);
    fails125(["build", "-q", "--pull", c2], /^berth: Dockerfile:1: FROM 127\.0\.0\.1:\d+\/lib\/bb:1: /, { quiet: true });
    clean();
  });

  test("RUN is on the default bridge network, as Docker's; --network none leaves it loopback only; nothing of it stays on the host", () => {
    const c = context({ Dockerfile: ["FROM busybox", "RUN ip -o -4 addr show eth0 | grep -o 'inet [0-9.]*' > /net && ip route | grep -c default >> /net"].join("\n") });
    build(["--no-cache", "-t", "on-bridge", c]);
    const bridge = JSON.parse(ok(["network", "inspect", "bridge"]))[0];
    const prefix = bridge.IPAM.Config[0].Subnet.split(".").slice(0, 2).join(".");
    const net = run(["--network", "none", "on-bridge", "cat", "/net"]).split("\n");
    assert.ok(net[0]!.startsWith(`inet ${prefix}.`), `an address of the default network: ${net[0]}`);
    assert.equal(net[1], "1", "a default route");
    const none = context({ Dockerfile: ["FROM busybox", "RUN ls /sys/class/net > /links"].join("\n") });
    build(["--no-cache", "--network", "none", "-t", "no-net", none]);
    assert.equal(run(["--network", "none", "no-net", "cat", "/links"]), "lo\n");
    // the steps' netns, veth and address are gone, and the default bridge with them (unused)
    assert.ok(!readdirSync("/sys/class/net").includes(bridge.Options["com.docker.network.bridge.name"]));
    assert.deepEqual(readdirSync(path.join(root, "networks", "cache")).filter((f) => f.includes("build-")), []);
    ok(["rmi", "on-bridge", "no-net"]);
    clean();
  });

  test("ONBUILD is stored in the parent and runs in a child build", () => {
    const p = context({ Dockerfile: ["FROM busybox", "ONBUILD RUN echo triggered > /tmp/onbuild", "ONBUILD COPY hello.txt /hello.txt"].join("\n") });
    build(["-t", "onbuild-parent", p]);
    assert.deepEqual(config("onbuild-parent").OnBuild, ["RUN echo triggered > /tmp/onbuild", "COPY hello.txt /hello.txt"]);
    assert.equal(berth(["run", "--rm", "onbuild-parent", "cat", "/tmp/onbuild"]).code, 1, "not run in the parent");
    const c = context({ "hello.txt": "hi from the child's context\n", Dockerfile: "FROM onbuild-parent\nRUN cat /tmp/onbuild /hello.txt\n" });
    const progress = build(["-t", "onbuild-child", c]);
    assert.match(progress, /triggered\n.*hi from the child's context/s);
    assert.equal(run(["onbuild-child", "cat", "/tmp/onbuild"]), "triggered\n");
    assert.equal(config("onbuild-child").OnBuild ?? null, null, "triggers are not inherited further");
  });

  test("the cache: an unchanged rebuild runs no RUN and gives the same image; a changed file rebuilds from its COPY on", () => {
    const c = context({
      "a.txt": "a1\n",
      "b.txt": "b1\n",
      Dockerfile: ["FROM busybox", "RUN echo RAN-ONE && echo one > /one", "COPY a.txt /a.txt", "RUN echo RAN-TWO && cat /a.txt > /two", "COPY b.txt /b.txt", 'CMD ["cat", "/two", "/b.txt"]'].join("\n"),
    });
    const iid = path.join(dir, "iid");
    const first = build(["--iidfile", iid, "-t", "cached", c]);
    const id1 = readFileSync(iid, "utf8");
    assert.match(first, /^#\d+ \d+\.\d+ RAN-ONE$/m);
    assert.deepEqual(Object.values(steps(first)), [false, false, false, false, false, false]);
    const again = build(["--iidfile", iid, "-t", "cached", c]);
    assert.doesNotMatch(again, /^#\d+ \d+\.\d+ RAN-/m, "no RUN ran");
    assert.deepEqual(steps(again), {
      "FROM busybox": false,
      "RUN echo RAN-ONE && echo one > /one": true,
      "COPY a.txt /a.txt": true,
      "RUN echo RAN-TWO && cat /a.txt > /two": true,
      "COPY b.txt /b.txt": true,
      'CMD ["cat", "/two", "/b.txt"]': true,
    });
    assert.equal(readFileSync(iid, "utf8"), id1, "the same image ID");
    // a changed a.txt: its COPY and everything after run again, nothing before
    writeFileSync(path.join(c, "a.txt"), "a2\n");
    const changed = build(["-t", "cached", c]);
    assert.deepEqual(Object.values(steps(changed)), [false, true, false, false, false, false]);
    assert.doesNotMatch(changed, /^#\d+ \d+\.\d+ RAN-ONE$/m);
    assert.match(changed, /^#\d+ \d+\.\d+ RAN-TWO$/m);
    assert.equal(run(["cached"]), "a2\nb1\n");
    // metadata counts: a mode change invalidates too
    spawnSync("chmod", ["600", path.join(c, "b.txt")]);
    assert.deepEqual(Object.values(steps(build(["-t", "cached", c]))), [false, true, true, true, false, false]);
    // --no-cache runs everything
    assert.match(build(["--no-cache", "-t", "cached", c]), /^#\d+ \d+\.\d+ RAN-ONE$/m);
    // history: every step, metadata ones without a layer
    const history = ok(["history", "--no-trunc", "--format", "{{.CreatedBy}}\t{{.Size}}", "cached"]).trim().split("\n");
    assert.deepEqual(history.slice(0, 5).map((l) => l.split("\t")[0]), ['CMD ["cat","/two","/b.txt"]', "COPY b.txt /b.txt", "RUN /bin/sh -c echo RAN-TWO && cat /a.txt > /two", "COPY a.txt /a.txt", "RUN /bin/sh -c echo RAN-ONE && echo one > /one"]);
    assert.equal(history[0]!.split("\t")[1], "0B");
    clean();
  });

  test("the built image runs with its Cmd, Entrypoint, Env and User; -t names it twice; a context on stdin", () => {
    const c = context({
      Dockerfile: ["FROM busybox", "ENV GREETING=hello", "USER nobody", 'ENTRYPOINT ["/bin/sh", "-c", "echo $GREETING $0 from $(id -un)"]', 'CMD ["world"]', "STOPSIGNAL SIGUSR1", "EXPOSE 8080", "HEALTHCHECK --interval=30s --retries=2 CMD wget -q localhost:8080 || exit 1"].join("\n"),
    });
    const tar = spawnSync("tar", ["-c", "-C", c, "."]);
    const r = spawnSync(BERTH, ["--root", root, "--runroot", runroot, "build", "-q", "-t", "runme", "-t", "runme:v2", "--label", "built.by=test", "-"], { input: tar.stdout });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(run(["runme"]), "hello world from nobody\n");
    assert.equal(run(["runme:v2", "again"]), "hello again from nobody\n");
    const cfg = config("runme");
    assert.deepEqual(cfg.Entrypoint, ["/bin/sh", "-c", "echo $GREETING $0 from $(id -un)"]);
    assert.deepEqual(cfg.Cmd, ["world"]);
    assert.equal(cfg.User, "nobody");
    assert.ok(cfg.Env.includes("GREETING=hello"));
    assert.equal(cfg.StopSignal, "SIGUSR1");
    assert.deepEqual(cfg.Labels, { "built.by": "test" });
    assert.deepEqual(cfg.ExposedPorts, { "8080/tcp": {} });
    assert.deepEqual(cfg.Healthcheck, { Test: ["CMD-SHELL", "wget -q localhost:8080 || exit 1"], Interval: 30e9, Retries: 2 });
  });

  test("on a terminal: the live view lists the steps with their times and the running step's output", () => {
    const c = context({ Dockerfile: "FROM busybox\nRUN echo tty-line-1 && echo tty-line-2\nCMD [\"sh\"]\n" });
    // script(1) gives berth a pty; `exec` so that script's shell does not stay in between
    const r = spawnSync("script", ["-qec", ["exec", BERTH, "--root", root, "--runroot", runroot, "build", "--no-cache", "-t", "ttyview", c].join(" "), "/dev/null"], { encoding: "utf8", timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });
    assert.equal(r.status, 0, r.stdout);
    const screen = r.stdout.replace(/\r/g, "");
    assert.match(screen, /\[\+\] Building \d+\.\ds \(3\/3\)/, "the last redraw: every step done");
    assert.match(screen, / => \[stage-0 2\/3\] RUN echo tty-line-1 && echo tty-line-2\s+\d+\.\ds\n/);
    assert.match(screen, / => => # tty-line-1\n/, "the running step's output under it");
    assert.match(screen, /\x1b\[\d+A/, "redrawn in place");
    assert.match(screen, /naming to docker\.io\/library\/ttyview:latest done/);
  });

  test("ADD unpacks a tar compressed with gzip, bzip2, xz or zstd; a compressed file that is not a tar is copied as it is", () => {
    const c = context({ Dockerfile: "FROM busybox\nADD a.tar.gz /g/\nADD a.tar.bz2 /b/\nADD a.tar.xz /x/\nADD a.tar.zst /z/\nADD plain.gz plain.xz /p/\n" });
    mkdirSync(path.join(dir, "archsrc/d"), { recursive: true });
    writeFileSync(path.join(dir, "archsrc/d/f.txt"), "in the archive\n");
    const tar = path.join(c, "a.tar");
    const sh = (cmd: string) => assert.equal(spawnSync("sh", ["-c", cmd], { cwd: c }).status, 0, cmd);
    sh(`tar -cf ${tar} -C ${path.join(dir, "archsrc")} d && gzip -k a.tar && bzip2 -k a.tar && xz -k a.tar && zstd -q a.tar -o a.tar.zst && rm a.tar`);
    sh("echo not a tar | gzip > plain.gz && echo not a tar | xz > plain.xz");
    build(["-t", "archives", c]);
    assert.equal(run(["archives", "cat", "/g/d/f.txt", "/b/d/f.txt", "/x/d/f.txt", "/z/d/f.txt"]), "in the archive\n".repeat(4));
    assert.equal(run(["archives", "sh", "-c", "gunzip -c /p/plain.gz && xz -dc /p/plain.xz"]), "not a tar\n".repeat(2));
    // a truncated archive (its first entry still readable): one line, exit 125, nothing left
    writeFileSync(path.join(dir, "archsrc/d/big"), randomBytes(300_000));
    sh(`tar -cf ${tar} -C ${path.join(dir, "archsrc")} d && xz -f a.tar`);
    const whole = readFileSync(path.join(c, "a.tar.xz"));
    writeFileSync(path.join(c, "a.tar.xz"), whole.subarray(0, whole.length >> 1));
    writeFileSync(path.join(c, "Dockerfile"), "FROM busybox\nADD a.tar.xz /x/\n");
    fails125(["build", "-q", c], /^berth: Dockerfile:2: ADD a\.tar\.xz: unexpected end of data$/, { quiet: true });
    ok(["rmi", "archives"]);
    clean();
  });

  test("RUN --mount: bind of the context (read-only, .dockerignore kept out) and of a stage, a cache kept between builds, tmpfs, rw binds whose writes are dropped; no mount point stays in the image", () => {
    const c = context({
      ".dockerignore": "private.txt\n",
      "private.txt": "not for the build\n",
      "src/a.txt": "from the context\n",
      Dockerfile: [
        "FROM busybox AS tools",
        "RUN mkdir -p /opt/t && echo a tool > /opt/t/x",
        "FROM busybox",
        "RUN --mount=type=bind,target=/ctx cat /ctx/src/a.txt && ! test -e /ctx/private.txt && ! touch /ctx/new 2>/dev/null",
        "RUN --mount=type=bind,from=tools,source=/opt/t,target=/t cat /t/x",
        "RUN --mount=type=cache,target=/cache,id=mounts-test sh -c 'echo run >> /cache/log; echo runs: $(wc -l < /cache/log)'",
        "RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'echo x > /scratch/f && df -k /scratch | tail -1'",
        "RUN --mount=type=bind,source=src,target=/w,rw sh -c 'echo changed > /w/a.txt && cat /w/a.txt'",
        "RUN --mount=type=bind,source=src/a.txt,target=/one.txt cat /one.txt",
      ].join("\n"),
    });
    const first = build(["-t", "mounts", c]);
    assert.match(first, /^#\d+ [\d.]+ from the context$/m);
    assert.match(first, /^#\d+ [\d.]+ a tool$/m);
    assert.match(first, /^#\d+ [\d.]+ runs: 1$/m);
    assert.match(first, /^#\d+ [\d.]+ tmpfs\s+1024\s/m);
    assert.match(first, /^#\d+ [\d.]+ changed$/m);
    // the mount points the runtime made are not in the image; the rw bind's write went nowhere
    assert.equal(run(["mounts", "sh", "-c", "for p in /ctx /t /cache /scratch /w /one.txt; do test -e $p && echo $p; done; true"]), "");
    assert.equal(readFileSync(path.join(c, "src", "a.txt"), "utf8"), "from the context\n");
    // unchanged: every step from the cache; with --no-cache the cache mount still holds the first run's line
    const rebuilt = Object.entries(steps(build(["-t", "mounts", c]))).filter(([k]) => k.startsWith("RUN"));
    assert.equal(rebuilt.length, 7);
    assert.deepEqual(rebuilt.filter(([, cached]) => !cached), [], "an unchanged rebuild is cached");
    assert.match(build(["--no-cache", "-t", "mounts", c]), /^#\d+ [\d.]+ runs: 2$/m);
    // what a bind shows keys the cache: a changed context file runs its step again
    writeFileSync(path.join(c, "src", "a.txt"), "changed in the context\n");
    const again = steps(build(["-t", "mounts", c]));
    assert.equal(again["RUN mkdir -p /opt/t && echo a tool > /opt/t/x"], true, "the other stage's step is cached");
    assert.equal(again["RUN --mount=type=bind,target=/ctx cat /ctx/src/a.txt && ! test -e /ctx/private.txt && ! touch /ctx/new 2>/dev/null"], false);
    // builder prune: the cache records and the cache mount go; the next build runs every step, the cache mount is empty again
    const pruned = ok(["builder", "prune", "-f"]);
    assert.match(pruned, /^Deleted build cache objects:\n([0-9a-f]+\n)+\nTotal reclaimed space: \d/);
    assert.deepEqual(readdirSync(path.join(root, "build-cache")), []);
    const afterPrune = build(["-t", "mounts", c]);
    assert.match(afterPrune, /^#\d+ [\d.]+ runs: 1$/m);
    assert.deepEqual(Object.entries(steps(afterPrune)).filter(([k, cached]) => k.startsWith("RUN") && cached), []);
    // bad input: one line, exit 125
    for (const [m, msg] of [
      ["type=secret,id=x,target=/s", /type=secret is not supported by berth build/],
      ["type=nope,target=/x", /type "nope": expected bind, cache or tmpfs/],
      ["type=cache", /a target is required/],
      ["type=bind,target=/x,size=1", /"size" is not an option of a bind mount/],
      ["type=bind,target=/x,from=nosuch", /--from=nosuch: no stage or image of that name/],
      ["type=bind,target=/x,source=missing", /no such file or directory in the build context/],
    ] as const) {
      fails125(["build", "-q", context({ Dockerfile: `FROM busybox\nRUN --mount=${m} true\n` })], new RegExp(`^berth: Dockerfile:2: .*${msg.source}`), { quiet: true });
    }
    ok(["rmi", "mounts"]);
    clean();
  });

  test("bad input: one line naming the file and line, exit 125, nothing left behind", () => {
    const bad = (dockerfile: string, pattern: RegExp, extra: Record<string, string> = {}) => {
      const c = context({ Dockerfile: dockerfile, ...extra });
      fails125(["build", "-q", c], pattern, { quiet: true });
    };
    bad("FROM busybox\n\nRUNN echo\n", /^berth: Dockerfile:3: unknown instruction: RUNN$/);
    bad("FROM busybox\nENV\n", /^berth: Dockerfile:2: ENV requires at least one argument$/);
    bad("COPY a b\nFROM busybox\n", /^berth: Dockerfile:1: COPY before the first FROM/);
    // a missing base is pulled: from a loopback port nothing listens on (never a registry outside), so it fails
    bad("FROM 127.0.0.1:9/nosuchimage\n", /^berth: Dockerfile:1: FROM 127\.0\.0\.1:9\/nosuchimage: .*(refused|ECONNREFUSED)/);
    bad('FROM busybox\nENV A="open\n', /^berth: Dockerfile:2: ENV: unexpected end of statement while looking for matching double-quote/);
    bad("FROM busybox\nCOPY --from=nowhere /x /y\n", /^berth: Dockerfile:2: COPY: --from=nowhere: no stage or image of that name$/);
    bad("FROM busybox\nCOPY --parents a /x/\n", /^berth: Dockerfile:2: COPY: unknown flag: --parents$/, { a: "" });
    bad("FROM busybox\nCOPY ../outside /x\n", /^berth: Dockerfile:2: COPY \.\.\/outside: forbidden path outside the build context$/);
    const c = context({ Dockerfile: "FROM busybox\nCOPY link /x\n" });
    symlinkSync("/etc/passwd", path.join(c, "link"));
    fails125(["build", "-q", c], /^berth: Dockerfile:2: COPY link: forbidden path outside the build context \(a symlink to \/etc\/passwd\)$/, { quiet: true });
    bad("FROM busybox\nCOPY missing.txt /x\n", /^berth: Dockerfile:2: COPY missing\.txt: no such file or directory in the build context$/);
    bad("FROM busybox\nCOPY a b /notadir\n", /must be a directory and end with a \//, { a: "", b: "" });
    clean();
  });

  test("a failing RUN shows its output and exit code and leaves no container or snapshot", () => {
    const c = context({ Dockerfile: "FROM busybox\nRUN echo before-failing\nRUN echo on-stdout; echo on-stderr >&2; exit 7\n" });
    const r = berth(["build", "--progress=plain", c]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^#3 \d+\.\d+ on-stdout$/m);
    assert.match(r.stderr, /^#3 \d+\.\d+ on-stderr$/m);
    assert.match(r.stderr.trimEnd().split("\n").at(-1)!, /^berth: Dockerfile:3: RUN echo on-stdout; echo on-stderr >&2; exit 7: the command returned a non-zero code: 7$/);
    clean();
    // -q: the failing step's output all the same
    const q = berth(["build", "-q", c]);
    assert.equal(q.code, 125);
    assert.equal(q.stdout, "");
    assert.match(q.stderr, /^on-stdout$/m);
    assert.match(q.stderr, /^on-stderr$/m);
    assert.match(q.stderr, /\nberth: Dockerfile:3: .*non-zero code: 7\n$/);
    clean();
    // the steps before it are cached for the next try
    assert.match(berth(["build", "--progress=plain", c]).stderr, /^#2 CACHED$/m);
    clean();
  });

  const debianSkip = process.env.BERTH_TEST_DEBIAN !== "1" ? "set BERTH_TEST_DEBIAN=1 (berth bootstrap debian: debootstrap from the apt mirror, minutes)" : spawnSync("debootstrap", ["--version"]).error ? "debootstrap is not installed" : false;
  test("from the debian template: a user made by RUN, USER and WORKDIR in the image", { skip: debianSkip, timeout: 1_800_000 }, () => {
    const r = berth(["bootstrap", "debian"]);
    assert.equal(r.code, 0, r.stderr);
    const c = context({ Dockerfile: ["FROM debian:bookworm", "RUN useradd -m -u 1234 app", "USER app", "WORKDIR /home/app/work", "RUN id -un > whoami && dpkg-query -W -f='${Status}' bash > bash", 'CMD ["cat", "whoami", "bash"]'].join("\n") });
    build(["-t", "deb-built", c]);
    assert.equal(run(["deb-built"]), "app\ninstall ok installed");
    clean();
  });
});
