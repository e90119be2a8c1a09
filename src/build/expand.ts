// Variable substitution as Docker's Dockerfile shell lexer does it (not a shell): $VAR, ${VAR},
// ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}, ${VAR:?msg}, ${VAR?msg}; single quotes
// keep everything literal, double quotes keep blanks and allow substitution, the escape
// character (\ or `) makes the next character literal (inside double quotes only before $, "
// and itself). Unset variables are empty. Words are split on blanks outside quotes, also in
// what an unquoted variable expands to.
import { invalidArgument } from "../errors.js";

export type Vars = ReadonlyMap<string, string>;

/** Splits on blanks outside quotes, keeping quotes and escapes as written (Docker's parseWords). */
export function splitWords(s: string, escape = "\\"): string[] {
  const words: string[] = [];
  let cur = "";
  let quote = "";
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (!quote && /\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === escape && i + 1 < s.length && quote !== "'") {
      cur += ch + s[++i]!;
      continue;
    }
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    cur += ch;
  }
  if (inWord) words.push(cur);
  return words;
}

class Lexer {
  private i = 0;
  /** the words so far; `fresh` is true between words */
  readonly words: string[] = [];
  private cur = "";
  private started = false;

  constructor(
    private readonly s: string,
    private readonly vars: Vars,
    private readonly escape: string,
    private readonly split: boolean,
  ) {}

  private add(text: string, quoted: boolean): void {
    if (!this.split || quoted) {
      this.cur += text;
      this.started = true;
      return;
    }
    for (const ch of text) {
      if (/\s/.test(ch)) this.blank();
      else {
        this.cur += ch;
        this.started = true;
      }
    }
  }

  private blank(): void {
    if (this.started) this.words.push(this.cur);
    this.cur = "";
    this.started = false;
  }

  run(stop?: string): string {
    const s = this.s;
    let out = "";
    const emit = (text: string, quoted: boolean) => {
      if (stop !== undefined) out += text;
      else this.add(text, quoted);
    };
    while (this.i < s.length) {
      const ch = s[this.i]!;
      if (stop !== undefined && ch === stop) {
        this.i++;
        return out;
      }
      if (ch === this.escape) {
        this.i++;
        if (this.i < s.length) emit(s[this.i++]!, true);
        else emit(ch, true);
        continue;
      }
      if (ch === "'" ) {
        const end = s.indexOf("'", this.i + 1);
        if (end < 0) throw invalidArgument(`unexpected end of statement while looking for matching single-quote in ${JSON.stringify(s)}`);
        emit(s.slice(this.i + 1, end), true);
        if (stop === undefined) this.started = true;
        this.i = end + 1;
        continue;
      }
      if (ch === '"') {
        this.i++;
        let text = "";
        for (;;) {
          if (this.i >= s.length) throw invalidArgument(`unexpected end of statement while looking for matching double-quote in ${JSON.stringify(s)}`);
          const c = s[this.i]!;
          if (c === '"') {
            this.i++;
            break;
          }
          if (c === this.escape && this.i + 1 < s.length) {
            const n = s[this.i + 1]!;
            text += n === '"' || n === "$" || n === this.escape ? n : c + n;
            this.i += 2;
            continue;
          }
          if (c === "$") {
            text += this.variable();
            continue;
          }
          text += c;
          this.i++;
        }
        emit(text, true);
        if (stop === undefined) this.started = true;
        continue;
      }
      if (ch === "$") {
        emit(this.variable(), false);
        continue;
      }
      emit(ch, stop !== undefined || !/\s/.test(ch) ? true : false);
      this.i++;
    }
    if (stop !== undefined) throw invalidArgument(`missing '}' in ${JSON.stringify(s)}`);
    this.blank();
    return out;
  }

  /** At a `$`: the variable's value (or `$` itself when no name follows). */
  private variable(): string {
    const s = this.s;
    this.i++;
    if (s[this.i] === "{") {
      this.i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(this.i));
      if (!m) throw invalidArgument(`bad substitution in ${JSON.stringify(s)}: expected a name after \${`);
      const name = m[0];
      this.i += name.length;
      if (s[this.i] === "}") {
        this.i++;
        return this.vars.get(name) ?? "";
      }
      const op = /^(:?[-+?])/.exec(s.slice(this.i));
      if (!op) throw invalidArgument(`bad substitution in ${JSON.stringify(s)}: unsupported modifier after \${${name}`);
      this.i += op[1]!.length;
      const word = new Lexer(s, this.vars, this.escape, false);
      word.i = this.i;
      const arg = word.run("}");
      this.i = word.i;
      const value = this.vars.get(name);
      const set = op[1]!.startsWith(":") ? value !== undefined && value !== "" : value !== undefined;
      switch (op[1]!.slice(-1)) {
        case "-":
          return set ? value! : arg;
        case "+":
          return set ? arg : "";
        default:
          if (!set) throw invalidArgument(`${name}: ${arg || "is not allowed to be unset"}`);
          return value!;
      }
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(this.i));
    if (!m) return "$";
    this.i += m[0].length;
    return this.vars.get(m[0]) ?? "";
  }
}

/** One word: quotes removed, variables substituted, no splitting. */
export function expandWord(s: string, vars: Vars, escape = "\\"): string {
  const lx = new Lexer(s, vars, escape, false);
  lx.run();
  return lx.words.join("");
}

/** A list of words: split on blanks outside quotes (an unquoted variable's blanks split too). */
export function expandWords(s: string, vars: Vars, escape = "\\"): string[] {
  const lx = new Lexer(s, vars, escape, true);
  lx.run();
  return lx.words;
}

/**
 * `KEY=VALUE ...` pairs (ENV, LABEL, ARG's defaults) or the legacy `KEY VALUE` form (ENV,
 * LABEL with one pair). Values are expanded words; keys are not expanded for ENV/ARG.
 */
export function keyValues(args: string, vars: Vars, escape: string, what: string, opts: { allowBare?: boolean } = {}): [string, string | undefined][] {
  const words = splitWords(args, escape);
  if (words.length === 0) throw invalidArgument(`${what} requires at least one argument`);
  if (!words[0]!.includes("=") && !opts.allowBare) {
    // the legacy form: the first word is the key, the rest of the line (expanded) the value
    if (words.length < 2) throw invalidArgument(`${what} ${args}: expected KEY=VALUE (or KEY VALUE)`);
    const rest = args.trim().slice(words[0]!.length).trim();
    return [[expandWord(words[0]!, vars, escape), expandWord(rest, vars, escape)]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq < 0) {
      if (opts.allowBare) return [w, undefined];
      throw invalidArgument(`${what}: ${JSON.stringify(w)}: expected KEY=VALUE`);
    }
    if (eq === 0) throw invalidArgument(`${what}: ${JSON.stringify(w)}: the name is empty`);
    return [expandWord(w.slice(0, eq), vars, escape), expandWord(w.slice(eq + 1), vars, escape)];
  });
}
