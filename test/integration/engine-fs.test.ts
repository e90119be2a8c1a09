// The engine's file system verbs as a user types them: cp (both directions, running and stopped
// containers, tar streams, no escape through symlinks or ".."), diff, export and commit, on real
// containers from the busybox image in a throwaway root, with nothing left behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, rootSkip } from "../helpers/oci.js";

const BERTH = path.join(REPO, "bin", "berth");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every object below `dir`: relative name, type, mode, and content or link target. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(dir, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${r} link -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${r} dir ${mode}`);
        walk(r);
      } else out.push(`${r} file ${mode} ${readFileSync(p, "utf8")}`);
    }
  };
  walk("");
  return out;
}

/** The names in a tar archive (GNU tar lists them). */
function tarNames(tar: Buffer): string[] {
  const r = spawnSync("tar", ["-t"], { input: tar, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}

describe("berth engine: cp, diff, export, commit", { skip: rootSkip }, () => {
  let dir: string;
  let root: string;
  let runroot: string;
  const berthRaw = (args: string[], input?: Buffer) => spawnSync(BERTH, ["--root", root, "--runroot", runroot, ...args], { input: input ?? Buffer.alloc(0), timeout: 60_000, maxBuffer: 256 << 20 });
  const berth = (args: string[], input?: Buffer): Result => {
    const r = berthRaw(args, input);
    return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const ok = (args: string[], input?: Buffer) => {
    const r = berth(args, input);
    assert.equal(r.code, 0, `berth ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  /** a berth failure: exit 125 and one line naming the problem */
  const fails125 = (args: string[], pattern: RegExp, input?: Buffer) => {
    const r = berth(args, input);
    assert.equal(r.code, 125, `berth ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.equal(r.stdout, "");
  };
  const mounts = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(runroot) || l.includes(root));
  const images = () => ok(["images", "-q", "--no-trunc"]).split("\n").filter(Boolean).sort();
  const blobs = () => readdirSync(path.join(root, "image", "blobs", "sha256")).sort();
  const mountsDirEmpty = () => !existsSync(path.join(runroot, "mounts")) || readdirSync(path.join(runroot, "mounts")).length === 0;
  /** a running container that does `script` first, then sleeps */
  const running = (name: string, script = "true") => {
    ok(["run", "-d", "--name", name, "busybox", "sh", "-c", `${script}; touch /ready; exec sleep 1000`]);
    for (let i = 0; i < 200 && berth(["exec", name, "test", "-e", "/ready"]).code !== 0; i++) spawnSync("sleep", ["0.05"]);
  };
  const host = (...p: string[]) => path.join(dir, "host", ...p);

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "berth-engine-fs-"));
    root = path.join(dir, "root");
    runroot = path.join(dir, "run");
    mkdirSync(host(), { recursive: true });
    ok(["bootstrap", "busybox"]);
  });
  after(() => {
    for (const id of readdirSync(path.join(root, "containers"), { withFileTypes: true }).map((d) => d.name)) berth(["rm", "-f", id]);
    rmSync(dir, { recursive: true, force: true });
  });

  test("commit: a written file is in the committed image only, a deleted one is gone (whiteout), -c CMD runs", () => {
    try {
      running("fs-w", "echo committed > /x; rm /bin/vi; mkdir -p /d/e && echo deep > /d/e/f");
      // a new container from the same image has none of it
      assert.equal(berth(["run", "--rm", "busybox", "cat", "/x"]).code, 1);
      assert.equal(ok(["run", "--rm", "busybox", "sh", "-c", "test -e /bin/vi && echo vi"]), "vi\n");
      const id = ok(["commit", "-a", "Jane <jane@example.com>", "-m", "the x file", "-c", 'CMD ["cat","/x"]', "-c", "ENV COMMITTED=yes", "fs-w", "committed:1"]).trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      // still running after the pause of the commit
      assert.equal(ok(["inspect", "-f", "{{.State.Status}}", "fs-w"]).trim(), "running");
      assert.equal(ok(["run", "--rm", "committed:1"]), "committed\n");
      assert.equal(ok(["run", "--rm", "committed:1", "sh", "-c", 'cat /d/e/f; echo $COMMITTED; test -e /bin/vi || echo no vi']), "deep\nyes\nno vi\n");
      const img = JSON.parse(ok(["image", "inspect", "committed:1"]))[0];
      assert.equal(img.Id, id);
      assert.equal(img.Author, "Jane <jane@example.com>");
      assert.equal(img.Comment, "the x file");
      assert.deepEqual(img.Config.Cmd, ["cat", "/x"]);
      assert.equal(img.RootFS.Layers.length, 2);
      assert.match(ok(["history", "committed:1"]).split("\n")[1]!, /the x file$/);
      // a dangling commit (no name) of a stopped container
      ok(["stop", "-t", "1", "fs-w"]);
      const dangling = ok(["commit", "fs-w"]).trim();
      assert.equal(ok(["run", "--rm", dangling, "cat", "/x"]), "committed\n");
      ok(["rmi", dangling]);
      // the committed image keeps the container's image's layers in use; rm leaves no mounts
      ok(["rm", "fs-w"]);
      ok(["rmi", "committed:1"]);
      assert.deepEqual(mounts(), []);
      assert.ok(mountsDirEmpty());
    } finally {
      berth(["rm", "-f", "fs-w"]);
    }
  });

  test("cp round-trips a directory host -> container -> host with contents and modes, running and stopped", () => {
    const src = host("tree");
    mkdirSync(path.join(src, "sub", "deeper"), { recursive: true });
    writeFileSync(path.join(src, "a.txt"), "alpha\n");
    writeFileSync(path.join(src, "sub", "run.sh"), "#!/bin/sh\necho hi\n");
    writeFileSync(path.join(src, "sub", "deeper", ".wh.notawhiteout"), "plain\n");
    chmodSync(path.join(src, "a.txt"), 0o640);
    chmodSync(path.join(src, "sub", "run.sh"), 0o755);
    chmodSync(path.join(src, "sub"), 0o750);
    symlinkSync("../a.txt", path.join(src, "sub", "link"));
    const want = tree(src);
    try {
      running("fs-r");
      ok(["cp", src, "fs-r:/"]); // an existing directory: the copy goes inside it
      assert.equal(ok(["exec", "fs-r", "sh", "-c", "stat -c '%n %a %u' /tree/a.txt /tree/sub; cat /tree/sub/deeper/.wh.notawhiteout; readlink /tree/sub/link"]), "/tree/a.txt 640 0\n/tree/sub 750 0\nplain\n../a.txt\n");
      ok(["cp", "fs-r:/tree", host("back")]); // a missing DEST becomes the copy
      assert.deepEqual(tree(host("back")), want);
      ok(["cp", "fs-r:/tree", host("back")]); // now it exists: the copy goes inside
      assert.deepEqual(tree(host("back", "tree")), want);
      ok(["cp", "fs-r:/tree/.", host("contents")]); // SRC/. : the content only
      assert.deepEqual(tree(host("contents")), want);
      ok(["cp", "fs-r:/tree/a.txt", host("one.txt")]); // a file to a new name
      assert.equal(readFileSync(host("one.txt"), "utf8"), "alpha\n");
      // cp pauses a running container while it works, and leaves it running; a paused one stays paused
      assert.equal(ok(["inspect", "-f", "{{.State.Status}}", "fs-r"]).trim(), "running");
      ok(["pause", "fs-r"]);
      ok(["cp", "fs-r:/tree/a.txt", host("paused.txt")]);
      assert.equal(readFileSync(host("paused.txt"), "utf8"), "alpha\n");
      assert.equal(ok(["inspect", "-f", "{{.State.Status}}", "fs-r"]).trim(), "paused");
      ok(["unpause", "fs-r"]);

      // a stopped container, and a created one that never ran
      ok(["stop", "-t", "1", "fs-r"]);
      ok(["cp", `${src}/.`, "fs-r:/copied"]);
      ok(["cp", "fs-r:/copied", host("fromstopped")]);
      assert.deepEqual(tree(host("fromstopped")), want);
      ok(["create", "--name", "fresh", "busybox", "sh", "-c", "cat /tree/a.txt"]);
      ok(["cp", src, "fresh:/"]);
      ok(["start", "fresh"]);
      assert.equal(ok(["wait", "fresh"]), "0\n");
      assert.equal(ok(["logs", "fresh"]), "alpha\n");
      assert.deepEqual(mounts(), []);
      assert.ok(mountsDirEmpty(), "no temporary mount left");
    } finally {
      berth(["rm", "-f", "fs-r"]);
      berth(["rm", "-f", "fresh"]);
    }
  });

  test("cp -a keeps owners; without it the receiving side's root owns the copy", () => {
    const f = host("owned");
    writeFileSync(f, "mine\n");
    chownSync(f, 1234, 5678);
    try {
      running("fs-o", "echo x > /theirs; chown 42:43 /theirs");
      ok(["cp", f, "fs-o:/plain"]);
      ok(["cp", "-a", f, "fs-o:/kept"]);
      assert.equal(ok(["exec", "fs-o", "stat", "-c", "%u:%g", "/plain", "/kept"]), "0:0\n1234:5678\n");
      ok(["cp", "fs-o:/theirs", host("theirs-plain")]);
      ok(["cp", "-a", "fs-o:/theirs", host("theirs-kept")]);
      assert.equal(`${lstatSync(host("theirs-plain")).uid}`, `${process.getuid!()}`);
      assert.equal(`${lstatSync(host("theirs-kept")).uid}:${lstatSync(host("theirs-kept")).gid}`, "42:43");
    } finally {
      berth(["rm", "-f", "fs-o"]);
    }
  });

  test("cp never leaves the container's root: symlinks to /etc and .. resolve inside it", () => {
    const tag = `berth-fs-${randomBytes(4).toString("hex")}`;
    writeFileSync(host(tag), "inside\n");
    try {
      running("fs-s", "ln -s /etc /etclink; ln -s ../../../../.. /up; ln -s /etc/passwd /pw");
      // writing through a symlink to /etc lands in the container's /etc
      ok(["cp", host(tag), "fs-s:/etclink/"]);
      assert.equal(existsSync(`/etc/${tag}`), false, "not on the host");
      assert.equal(ok(["exec", "fs-s", "cat", `/etc/${tag}`]), "inside\n");
      // .. above the root stops at the root
      ok(["cp", host(tag), `fs-s:/../../../../tmp/${tag}`]);
      assert.equal(existsSync(`/tmp/${tag}`), false, "not on the host");
      assert.equal(ok(["exec", "fs-s", "cat", `/tmp/${tag}`]), "inside\n");
      ok(["cp", host(tag), `fs-s:/up/${tag}.2`]);
      assert.equal(ok(["exec", "fs-s", "cat", `/${tag}.2`]), "inside\n");
      // reading through them gives the container's files, not the host's
      ok(["cp", "-L", "fs-s:/pw", host("pw")]);
      assert.equal(readFileSync(host("pw"), "utf8"), ok(["exec", "fs-s", "cat", "/etc/passwd"]));
      assert.notEqual(readFileSync(host("pw"), "utf8"), readFileSync("/etc/passwd", "utf8"));
      ok(["cp", "fs-s:/pw", host("pwlink")]); // without -L the symlink itself
      assert.equal(readlinkSync(host("pwlink")), "/etc/passwd");
      ok(["cp", "fs-s:/up/etc/group", host("group")]);
      assert.equal(readFileSync(host("group"), "utf8"), ok(["exec", "fs-s", "cat", "/etc/group"]));
    } finally {
      berth(["rm", "-f", "fs-s"]);
      rmSync(`/etc/${tag}`, { force: true }); // only if the test failed
      rmSync(`/tmp/${tag}`, { force: true });
    }
  });

  test("cp - streams a tar out of and into a container", () => {
    try {
      running("fs-t", "mkdir -p /d/e; echo f > /d/e/f; echo top > /top");
      const out = berthRaw(["cp", "fs-t:/d", "-"]);
      assert.equal(out.status, 0, out.stderr.toString());
      assert.deepEqual(tarNames(out.stdout), ["d/", "d/e/", "d/e/f"]);
      const file = berthRaw(["cp", "fs-t:/top", "-"]);
      assert.deepEqual(tarNames(file.stdout), ["top"]);
      const x = spawnSync("tar", ["-xO", "top"], { input: file.stdout });
      assert.equal(x.stdout.toString(), "top\n");
      // a tar made by GNU tar on the host, extracted into a directory of the container
      mkdirSync(host("in", "pkg"), { recursive: true });
      writeFileSync(host("in", "pkg", "file"), "from stdin\n");
      const tar = spawnSync("tar", ["-C", host("in"), "-c", "pkg"]).stdout;
      ok(["cp", "-", "fs-t:/d"], tar);
      assert.equal(ok(["exec", "fs-t", "cat", "/d/pkg/file"]), "from stdin\n");
      fails125(["cp", "-", "fs-t:/top"], /fs-t:\/top: must be a directory/, tar);
    } finally {
      berth(["rm", "-f", "fs-t"]);
    }
  });

  test("cp reaches volumes and bind mounts where the container sees them, and refuses read-only ones", () => {
    mkdirSync(host("bound"), { recursive: true });
    writeFileSync(host("bound", "b"), "bound\n");
    writeFileSync(host("v"), "into the volume\n");
    try {
      ok(["run", "-d", "--name", "fs-v", "-h", "fshost", "-v", "fsvol:/data", "-v", `${host("bound")}:/ro:ro`, "busybox", "sleep", "1000"]);
      ok(["cp", host("v"), "fs-v:/data/"]);
      assert.equal(ok(["exec", "fs-v", "cat", "/data/v"]), "into the volume\n");
      assert.equal(ok(["run", "--rm", "-v", "fsvol:/vol", "busybox", "cat", "/vol/v"]), "into the volume\n");
      ok(["cp", "fs-v:/ro/b", host("b-back")]);
      assert.equal(readFileSync(host("b-back"), "utf8"), "bound\n");
      fails125(["cp", host("v"), "fs-v:/ro/"], /fs-v: \/ro is mounted read-only/);
      assert.equal(existsSync(host("bound", "v")), false);
      // the files berth writes for a running container
      const hn = berthRaw(["cp", "fs-v:/etc/hostname", "-"]);
      assert.equal(spawnSync("tar", ["-xO"], { input: hn.stdout }).stdout.toString(), "fshost\n");
      // a stopped container's volume too
      ok(["stop", "-t", "1", "fs-v"]);
      ok(["cp", "fs-v:/data/v", host("v-back")]);
      assert.equal(readFileSync(host("v-back"), "utf8"), "into the volume\n");
    } finally {
      berth(["rm", "-f", "fs-v"]);
      berth(["volume", "rm", "fsvol"]);
    }
  });

  test("diff lists A, C and D lines from the container's writable layer", () => {
    try {
      running("df", "echo new > /x; rm /bin/vi; echo changed >> /etc/group; mkdir -p /d/e; echo f > /d/e/f; rm -r /home 2>/dev/null; mkdir /home; touch /home/again");
      const lines = ok(["diff", "df"]).split("\n").filter(Boolean);
      const wanted = ["C /bin", "D /bin/vi", "A /d", "A /d/e", "A /d/e/f", "C /etc", "C /etc/group", "A /ready", "A /x"];
      for (const w of wanted) assert.ok(lines.includes(w), `${w} in ${lines.join(" | ")}`);
      assert.ok(!lines.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$/.test(l)), `no mount points: ${lines.join(" | ")}`);
      assert.deepEqual(lines, [...lines].sort((a, b) => (a.slice(2) < b.slice(2) ? -1 : 1)), "sorted by path");
      // a fresh container has no changes
      ok(["create", "--name", "clean", "busybox", "true"]);
      assert.equal(ok(["diff", "clean"]), "");
    } finally {
      berth(["rm", "-f", "df"]);
      berth(["rm", "-f", "clean"]);
    }
  });

  test("export writes the container's whole file system as a tar, to stdout or -o", () => {
    try {
      running("fs-e", "echo exported > /x");
      const out = berthRaw(["export", "fs-e"]);
      assert.equal(out.status, 0, out.stderr.toString());
      const names = tarNames(out.stdout);
      for (const n of ["x", "bin/busybox", "etc/passwd", "ready"]) assert.ok(names.includes(n), `${n} in the export`);
      assert.equal(spawnSync("tar", ["-xO", "x"], { input: out.stdout }).stdout.toString(), "exported\n");
      ok(["stop", "-t", "1", "fs-e"]);
      const file = host("e.tar");
      assert.equal(ok(["export", "-o", file, "fs-e"]), "");
      assert.deepEqual(tarNames(readFileSync(file)), names);
      assert.deepEqual(readdirSync(host()).filter((n) => n.startsWith("e.tar")), ["e.tar"], "no temporary file left");
      assert.ok(mountsDirEmpty());
    } finally {
      berth(["rm", "-f", "fs-e"]);
    }
  });

  test("bad input: one line, exit 125, nothing left behind", () => {
    try {
      running("fs-b");
      const imagesBefore = images();
      const blobsBefore = blobs();
      fails125(["cp", "nosuch:/etc/passwd", host("x")], /^berth: No such container: nosuch$/m);
      fails125(["cp", host(), "nosuch:/tmp"], /No such container: nosuch/);
      fails125(["cp", "fs-b:/no/such/file", host("x")], /^berth: Could not find the file \/no\/such\/file in container fs-b$/m);
      fails125(["cp", host("no-such-host-file"), "fs-b:/tmp"], /no-such-host-file: no such file or directory/);
      fails125(["cp", host(), host("y")], /one of SRC and DEST must be CONTAINER:PATH/);
      fails125(["commit", "-c", "FROB x", "fs-b", "bad:1"], /--change FROB: not an instruction/);
      fails125(["commit", "-c", "CMD", "fs-b"], /--change CMD: needs an argument/);
      fails125(["commit", "nosuch"], /No such container: nosuch/);
      fails125(["diff", "nosuch"], /No such container: nosuch/);
      fails125(["export", "-o", host("bad.tar"), "nosuch"], /No such container: nosuch/);
      assert.equal(existsSync(host("x")), false);
      assert.equal(existsSync(host("bad.tar")), false);
      assert.deepEqual(images(), imagesBefore, "no image made");
      assert.deepEqual(blobs(), blobsBefore, "no blob left");
      assert.ok(mountsDirEmpty());
      ok(["stop", "-t", "1", "fs-b"]);
      fails125(["cp", "fs-b:/no/such/file", host("x")], /Could not find the file/);
      assert.deepEqual(mounts(), [], "the temporary mount of a stopped container is gone after a failure");
      assert.ok(mountsDirEmpty());
    } finally {
      berth(["rm", "-f", "fs-b"]);
    }
  });
});
