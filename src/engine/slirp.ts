// `--network slirp4netns` for an unprivileged berth (README "Unprivileged berth"): the
// container's own network namespace gets a tap device from slirp4netns, a user-mode TCP/IP
// stack (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3), and each -p is a host forward
// added through its API socket. slirp4netns runs in its own session beside the container;
// its pid and start time are kept in the run dir, and the container's cleanup ends it.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { failedPrecondition, invalidArgument } from "../errors.js";
import { procStat, sendSignal } from "../sys/index.js";
import type { PortMapping } from "./networks.js";

export const SLIRP_NETWORK = "slirp4netns";
/** slirp4netns' built-in resolver, as the container sees it */
export const SLIRP_DNS = "10.0.2.3";
const PID_FILE = "slirp4netns.pid";
/** <runroot>/slirp/<short id>.sock: the run dir's path is too long for a unix socket's 108 bytes */
const apiSocket = (runDir: string) => path.join(path.dirname(path.dirname(runDir)), "slirp", `${path.basename(runDir).slice(0, 12)}.sock`);
/** bounds how long slirp4netns may take to configure the tap device */
const READY_MS = 10_000;

/** What slirp4netns needs that the user may lack, checked before the container is made. */
export function checkSlirp(): void {
  try {
    fs.accessSync("/dev/net/tun", fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    throw failedPrecondition("--network slirp4netns: /dev/net/tun is not open to this user (Debian makes it 0666; here it is not): as root, `chmod 0666 /dev/net/tun`");
  }
}

/** Starts slirp4netns on the network namespace of `pid` and adds the port forwards. */
export async function startSlirp(runDir: string, pid: number, ports: PortMapping[]): Promise<void> {
  const socket = apiSocket(runDir);
  fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
  const args = ["--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd=3", "--api-socket", socket, String(pid), "tap0"];
  const child = spawn("slirp4netns", args, { detached: true, stdio: ["ignore", "ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), READY_MS);
    child.once("error", () => resolve(false));
    child.once("exit", () => resolve(false));
    (child.stdio[3] as NodeJS.ReadableStream).once("data", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) {
    child.kill("SIGKILL");
    const missing = child.pid === undefined;
    throw failedPrecondition(missing ? "--network slirp4netns: slirp4netns is not installed (apt-get install slirp4netns)" : `--network slirp4netns: slirp4netns did not start: ${stderr.trim().split("\n").pop() ?? ""}`);
  }
  child.stderr!.destroy();
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  child.unref();
  fs.writeFileSync(path.join(runDir, PID_FILE), `${child.pid} ${procStat(child.pid!)?.startTime ?? ""}\n`);
  for (const p of ports) {
    const reply = await apiCall(socket, {
      execute: "add_hostfwd",
      arguments: { proto: p.protocol, host_addr: p.hostIP || "0.0.0.0", host_port: p.hostPort, guest_port: p.containerPort },
    });
    if (reply.error) throw invalidArgument(`-p ${p.hostIP ? p.hostIP + ":" : ""}${p.hostPort}:${p.containerPort}/${p.protocol}: ${reply.error.desc ?? JSON.stringify(reply.error)}`);
  }
}

/** Ends the container's slirp4netns, if it has one and it is still the same process. */
export function stopSlirp(runDir: string): void {
  fs.rmSync(apiSocket(runDir), { force: true });
  let text: string;
  try {
    text = fs.readFileSync(path.join(runDir, PID_FILE), "utf8");
  } catch {
    return;
  }
  const [pid, start] = text.trim().split(" ");
  if (Number(pid) > 0 && procStat(Number(pid))?.startTime === start) {
    try {
      sendSignal(Number(pid), 15);
    } catch {
      // gone meanwhile
    }
  }
}

interface ApiReply {
  return?: unknown;
  error?: { desc?: string };
}

/** One request on slirp4netns' API socket: a JSON object in, one JSON object back. */
function apiCall(socket: string, request: object): Promise<ApiReply> {
  return new Promise((resolve, reject) => {
    let data = "";
    const c = net.createConnection(socket, () => c.end(JSON.stringify(request)));
    const timer = setTimeout(() => c.destroy(new Error("no answer")), READY_MS);
    c.on("data", (d) => (data += d.toString()));
    c.on("error", (e) => {
      clearTimeout(timer);
      reject(failedPrecondition(`slirp4netns API ${socket}: ${e.message}`));
    });
    c.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data) as ApiReply);
      } catch {
        reject(failedPrecondition(`slirp4netns API ${socket}: unexpected answer ${JSON.stringify(data)}`));
      }
    });
  });
}
