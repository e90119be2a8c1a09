// User namespaces: id maps written by the parent, devices bound instead of created, and a
// rootless run by an unprivileged user the test creates, with its state under its own root.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { BERTH_OCI, BERTH_OCI_WARM, makeRootfs, rootSkip, type Sandbox, sandbox } from "../helpers/oci.js";

const TEST_USER = "berth-rootless";

/** the unprivileged user rootless tests run as, created once */
function testUser(): number {
  let r = spawnSync("id", ["-u", TEST_USER], { encoding: "utf8" });
  if (r.status !== 0) {
    spawnSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER]);
    r = spawnSync("id", ["-u", TEST_USER], { encoding: "utf8" });
  }
  return Number(r.stdout.trim());
}

for (const mode of ["direct", "warm"] as const)
describe(`berth-oci user namespaces (${mode})`, { skip: rootSkip }, () => {
  let box: Sandbox;
  before(() => {
    box = sandbox(mode);
  });
  after(() => box?.cleanup());

  const userns = (s: Parameters<NonNullable<Parameters<Sandbox["bundle"]>[1]>>[0]) => {
    s.linux!.namespaces!.push({ type: "user" });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid"] });
  };

  test("the maps show in /proc/self/uid_map; root inside is the mapped host id", () => {
    const b = box.bundle("mapped", (s) => {
      userns(s);
      s.process!.args = ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /tmp/f; stat -c %u /tmp/f; sleep 0.2"];
    });
    const r = box.oci(["run", "--bundle", b, "mapped"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    assert.deepEqual(lines, ["0 200000 65536", "0 200000 65536", "0", "0"]);
  });

  test("the init runs as the mapped host uid, and devices are the host's nodes bound in", () => {
    const b = box.bundle("hostview", (s) => {
      userns(s);
      s.process!.args = ["sleep", "30"];
    });
    assert.equal(box.oci(["run", "-d", "--bundle", b, "hostview"]).code, 0);
    try {
      const pid = JSON.parse(box.oci(["state", "hostview"]).stdout).pid as number;
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      assert.match(status, /^Uid:\s+200000\s+200000\s+200000\s+200000$/m);
      const r = box.oci(["exec", "hostview", "sh", "-c", "echo x > /dev/null && head -c 3 /dev/zero | wc -c"]);
      assert.equal(r.stdout, "3\n", r.stderr);
    } finally {
      box.oci(["delete", "-f", "hostview"]);
    }
  });

  test("overlapping mappings are refused before anything is made", () => {
    const b = box.bundle("overlap", (s) => {
      userns(s);
      s.linux!.uidMappings = [
        { containerID: 0, hostID: 200000, size: 1000 },
        { containerID: 500, hostID: 300000, size: 10 },
      ];
    });
    const r = box.oci(["create", "--bundle", b, "overlap"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "berth-oci: config.json: linux.uidMappings[1]: container ids 500-509 overlap config.json: linux.uidMappings[0]\n");
    assert.equal(existsSync(path.join(box.root, "overlap")), false);
  });

  test("rootless: an unprivileged user runs a container from `spec --rootless` with its state in its own root", () => {
    const uid = testUser();
    const home = path.join(box.dir, `rootless-${mode}`);
    const bundle = path.join(home, "bundle");
    mkdirSync(bundle, { recursive: true });
    makeRootfs(path.join(bundle, "rootfs"));
    const xdg = path.join(home, "xdg");
    mkdirSync(xdg);
    for (const p of [home, bundle, xdg]) chownSync(p, uid, uid);
    chmodSync(box.dir, 0o755);
    const env = { PATH: process.env.PATH, XDG_RUNTIME_DIR: xdg, HOME: home, BERTH_WARM_IDLE_MS: "5000" };
    const as = (args: string[]) =>
      spawnSync("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", mode === "warm" ? BERTH_OCI_WARM : BERTH_OCI, ...args], {
        env,
        cwd: home,
        encoding: "utf8",
        timeout: 30_000,
      });
    const spec = as(["spec", "--rootless", "--bundle", bundle]);
    assert.equal(spec.status, 0, spec.stderr);
    const config = JSON.parse(readFileSync(path.join(bundle, "config.json"), "utf8"));
    assert.deepEqual(config.linux.uidMappings, [{ containerID: 0, hostID: uid, size: 1 }]);
    config.process.terminal = false;
    config.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map; hostname"];
    writeFileSync(path.join(bundle, "config.json"), JSON.stringify(config));
    const state = path.join(xdg, "berth-oci");
    const r = as(["--root", state, "run", "--bundle", bundle, "rl"]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    assert.deepEqual(lines, ["0", `0 ${uid} 1`, config.hostname]);
    assert.equal(existsSync(path.join(state, "rl")), false, "run removed its state");
    // and it could not touch root-owned state
    const denied = as(["--root", "/run/berth-oci-rootless-test", "list"]);
    assert.equal(denied.stdout.trim().split("\n").length <= 1, true);
    const pidFile = path.join(xdg, "berth", "warm.sock.pid");
    if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
  });
});
