// One run of a launch plan: send it, answer the executor's sync points, and turn its
// error message into a BerthError. Used by create and exec.
import type { Duplex } from "node:stream";
import { BerthError } from "../errors.js";
import { errnoMessage } from "../sys/index.js";
import type { Launch, Launcher } from "./launcher.js";
import { encodeMessage, type Message, MessageReader, SyncMsg, type SyncPoint } from "./protocol.js";

export interface SessionHandlers {
  stay: boolean;
  stdio: [number | "ignore", number | "ignore", number | "ignore"];
  /** the new process's pid in the caller's pid namespace */
  onPid(pid: number): void;
  /** the executor waits at `point` until this resolves */
  onSync(point: SyncPoint, pid: number): Promise<void> | void;
}

/** Runs the plan up to MSG_READY. On failure the launch is killed before the error is thrown. */
export async function launchPlan(launcher: Launcher, plan: Buffer, h: SessionHandlers): Promise<{ launch: Launch; pid: number }> {
  const launch = await launcher.launch(plan, { stay: h.stay, stdio: h.stdio });
  const channel = new SyncChannel(launch.sync, launch);
  let pid = 0;
  try {
    for (;;) {
      const msg = await channel.next();
      if (msg.type === SyncMsg.CHILD_PID) {
        pid = msg.payload.readInt32LE(0);
        h.onPid(pid);
      } else if (msg.type === SyncMsg.SYNC_REQ) {
        if (pid <= 0) throw new BerthError("Internal", "launch protocol: sync request before the pid");
        await h.onSync(msg.payload.readInt32LE(0) as SyncPoint, pid);
        launch.sync.write(encodeMessage(SyncMsg.SYNC_ACK, msg.payload));
      } else if (msg.type === SyncMsg.READY) {
        return { launch, pid };
      } else if (msg.type === SyncMsg.ERROR) {
        const errno = msg.payload.readInt32LE(0);
        const label = msg.payload.subarray(4).toString("utf8");
        throw new BerthError(errno === 2 ? "NotFound" : "FailedPrecondition", errno ? `${label}: ${errnoMessage(errno)}` : label);
      }
    }
  } catch (e) {
    launch.kill();
    throw e;
  }
}

/** Messages from the executor, one at a time; the end of the stream is an error. */
class SyncChannel {
  private readonly reader = new MessageReader();
  private readonly queue: Message[] = [];
  private waiting?: { resolve: (m: Message) => void; reject: (e: Error) => void };
  private ended?: Error;

  constructor(sock: Duplex, launch: Launch) {
    sock.on("data", (chunk: Buffer) => {
      for (const m of this.reader.push(chunk)) this.queue.push(m);
      this.flush();
    });
    const end = () => {
      // give the executor's exit status a moment to arrive for a better message
      setTimeout(() => {
        this.ended ??= new BerthError("Internal", `container init exited during setup${launch.status()}`);
        this.flush();
      }, 20);
    };
    sock.on("end", end);
    sock.on("error", end);
  }

  next(): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.flush();
    });
  }

  private flush(): void {
    if (!this.waiting) return;
    const m = this.queue.shift();
    if (m) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve(m);
    } else if (this.ended) {
      const w = this.waiting;
      this.waiting = undefined;
      w.reject(this.ended);
    }
  }
}
