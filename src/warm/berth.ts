// berth's requests in the warm service: the CLI's main() with the caller's stdio (the fds its
// front-end passed), cwd, environment and signals, answering with the exit code. What needs
// the caller's terminal goes back to the Direct path, which the front-end then runs itself.
import type { EventEmitter } from "node:events";
import { constants } from "node:os";
import { main } from "../cli/berth/main.js";
import type { CliContext } from "../cli/context.js";
import type { WarmRequest } from "./server.js";
import { CallerInput, CallerOutput } from "./stdio.js";

const GLOBAL_WITH_VALUE = new Set(["--root", "--runroot", "--storage-driver"]);
/** run/create's short options that take a value: in `-it` each letter is a flag, in `-eTERM=x` not */
const RUN_SHORT_WITH_VALUE = new Set([..."ewuhlvmcpa"]);
/** long options known to take no value; any other without `=` is taken to eat the next word */
const LONG_FLAGS = new Set(["--rm", "--detach", "--read-only", "--privileged", "--init", "--attach", "--help", "--sig-proxy", "--no-healthcheck", "--quiet"]);

/** Whether -i/-t/--interactive/--tty is among a command's options (not its container's command). */
function asksForTerminal(args: string[], shortWithValue: Set<string>, stopAtPositional: boolean): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return false;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a : a.slice(0, eq);
      if (name === "--interactive" || name === "--tty") return eq < 0 || !/^(false|0)$/i.test(a.slice(eq + 1));
      if (eq < 0 && !LONG_FLAGS.has(name)) i++;
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        if (a[j] === "i" || a[j] === "t") return true;
        if (shortWithValue.has(a[j])) {
          if (j === a.length - 1) i++; // the value is the next word
          break;
        }
      }
      continue;
    }
    if (stopAtPositional) return false; // the image: what follows is the container's command
  }
  return false;
}

/**
 * Requests the service must not answer: those that need the caller's terminal (-i/-t, exec,
 * attach, a prune's question) and those that run until the caller's ^C (stats). The
 * front-end runs them on the Direct path, with the same argv.
 */
export function needsDirect(argv: string[]): boolean {
  let i = 0;
  while (i < argv.length && argv[i].startsWith("-") && argv[i] !== "--") {
    if (GLOBAL_WITH_VALUE.has(argv[i])) i++;
    i++;
  }
  let verb = argv[i++];
  let group = "";
  if (verb === "container" || verb === "image" || verb === "system" || verb === "volume" || verb === "builder") {
    group = verb;
    verb = argv[i++];
  }
  const rest = argv.slice(i);
  switch (verb) {
    case "exec":
    case "attach":
    case "registry": // serve runs until the caller's signal, in the caller's process
      return true;
    case "run":
    case "create":
      return group !== "image" && asksForTerminal(rest, RUN_SHORT_WITH_VALUE, true);
    case "start":
      return asksForTerminal(rest, new Set(), false);
    case "stats":
      return !rest.includes("--no-stream");
    case "prune":
      return !rest.some((a) => a === "--force" || /^-[a-zA-Z]*f[a-zA-Z]*$/.test(a));
    default:
      return false;
  }
}

/** the service's own BERTH_DEBUG: `berth --debug` sets it for its error report, for one request only */
const SERVICE_DEBUG = process.env.BERTH_DEBUG;

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

type SignalListener = (signal: NodeJS.Signals) => void;

/** Runs one berth request; -n means the caller is to die of signal n (nothing subscribed to it). */
export async function serveBerth(req: WarmRequest, stdio: number[], signals: EventEmitter): Promise<number | "direct"> {
  const stdin = new CallerInput(stdio[0]);
  const stdout = new CallerOutput(stdio[1]);
  const stderr = new CallerOutput(stdio[2]);
  const release = () => {
    stdin.release();
    stdout.release();
    stderr.release();
  };
  if (needsDirect(req.argv)) {
    release();
    return "direct";
  }
  const listeners = new Map<NodeJS.Signals, Set<SignalListener>>();
  const cli: CliContext = {
    get stdin() {
      return stdin.open();
    },
    stdout,
    stderr,
    cwd: req.cwd,
    env: req.env,
    onSignal(names, listener) {
      for (const n of names) {
        if (!listeners.has(n)) listeners.set(n, new Set());
        listeners.get(n)!.add(listener);
      }
      return () => {
        for (const n of names) listeners.get(n)?.delete(listener);
      };
    },
  };
  let killedBy: (code: number) => void = () => undefined;
  const killed = new Promise<number>((resolve) => (killedBy = resolve));
  const onSignal = (signo: number) => {
    const name = SIGNAL_NAMES.get(signo);
    const subscribed = name ? listeners.get(name) : undefined;
    if (name && subscribed?.size) for (const l of [...subscribed]) l(name);
    else killedBy(-signo); // as Node would have died of it: the command's output stops here
  };
  signals.on("signal", onSignal);
  const ran = main(req.argv, cli).then(async (code) => {
    if (SERVICE_DEBUG === undefined) delete process.env.BERTH_DEBUG;
    else process.env.BERTH_DEBUG = SERVICE_DEBUG;
    await Promise.all([stdout.finish(), stderr.finish()]);
    stdin.release();
    return code;
  });
  try {
    const answer = await Promise.race([ran, killed]);
    if (answer < 0) release();
    return answer;
  } finally {
    signals.off("signal", onSignal);
  }
}
