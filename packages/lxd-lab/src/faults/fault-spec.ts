import { InvalidInputError } from "@labgate/core/errors";

/** What a fault does to its target; each one has an exact undo (see fault-actions). */
export type FaultAction = "stop" | "kill" | "pause" | "drain" | "maint" | "delay" | "loss";

/** One fault as data: `stop app2 at 5s for 10s`, `delay 200ms app2 at 5s for 10s`. */
export interface FaultSpec {
  action: FaultAction;
  /** Backend (server) name as the lab knows it, e.g. "app2". */
  target: string;
  /** Offset from the start of the measured run. */
  atMs: number;
  /** How long the fault lasts before it is undone. */
  forMs: number;
  /** delay: added latency in ms; loss: packet loss in percent. */
  amount?: number;
  /** The text it was parsed from (for reports and errors). */
  text: string;
}

export const FAULT_ACTIONS: readonly FaultAction[] = [
  "stop",
  "kill",
  "pause",
  "drain",
  "maint",
  "delay",
  "loss",
];

const ACTION_HELP =
  "stop|kill|pause|drain|maint <backend> at <offset> for <duration>, or delay <N>ms|loss <N>% <backend> at <offset> for <duration>";
const EXAMPLES =
  "e.g. 'stop app2 at 5s for 10s', 'drain app1 at 2s for 5s', 'delay 200ms app2 at 5s for 10s'";
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
/** Faults are undone at their end; one longer than a day is a typo, not a test. */
const MAX_MS = 24 * 3_600_000;

/**
 * Parses one fault. Grammar (words separated by spaces, case of the action ignored):
 *   <stop|kill|pause|drain|maint> <target> at <offset> for <duration>
 *   <delay <N>ms | loss <N>%> <target> at <offset> for <duration>
 * Offsets and durations take ms, s, m (plain numbers are refused: the unit is never guessed).
 */
export function parseFault(text: string): FaultSpec {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const fail = (what: string): never => {
    throw new InvalidInputError("FAULT_INVALID", `Fault '${text}': ${what}.`, {
      hint: `Write a fault as ${ACTION_HELP}; ${EXAMPLES}.`,
      details: { fault: text },
    });
  };
  if (words.length === 0) fail("it is empty");
  const action = words.shift()?.toLowerCase() as FaultAction;
  if (!FAULT_ACTIONS.includes(action))
    fail(`unknown action '${action}' (known: ${FAULT_ACTIONS.join(", ")})`);
  let amount: number | undefined;
  if (action === "delay" || action === "loss") {
    const raw = words.shift() ?? fail(`${action} needs an amount before the target`);
    amount =
      action === "delay"
        ? parseAmount(raw, /^(\d+)ms$/, 1, 60_000, "a delay in ms (1ms-60000ms), e.g. 200ms", fail)
        : parseAmount(raw, /^(\d+(?:\.\d+)?)%$/, 0.01, 100, "a loss in percent (0.01%-100%), e.g. 5%", fail);
  }
  const target = words.shift() ?? fail("no target backend (e.g. app2)");
  if (target === "at" || target === "for") fail("no target backend before 'at' (e.g. app2)");
  if (!NAME_RE.test(target)) fail(`target '${target}' is not a backend name (letters, digits, _ . : -)`);
  const rest = new Map<string, string>();
  while (words.length > 0) {
    const key = (words.shift() as string).toLowerCase();
    if (key !== "at" && key !== "for")
      fail(`unexpected word '${key}' (expected 'at <offset>' or 'for <duration>')`);
    if (rest.has(key)) fail(`'${key}' is given twice`);
    rest.set(key, words.shift() ?? fail(`'${key}' needs a value such as 5s`));
  }
  const at = rest.get("at") ?? fail("no start offset ('at 5s')");
  const dur = rest.get("for") ?? fail("no duration ('for 10s')");
  const atMs = parseFaultDuration(at, "start offset", true, fail);
  const forMs = parseFaultDuration(dur, "duration", false, fail);
  return { action, target, atMs, forMs, ...(amount === undefined ? {} : { amount }), text: text.trim() };
}

/** Parses every fault, then checks that no two act on the same backend at overlapping times. */
export function parseFaults(texts: readonly string[]): FaultSpec[] {
  const faults = texts.map(parseFault);
  for (const [i, a] of faults.entries()) {
    for (const b of faults.slice(i + 1)) {
      if (a.target === b.target && a.atMs < b.atMs + b.forMs && b.atMs < a.atMs + a.forMs) {
        throw new InvalidInputError(
          "FAULT_OVERLAP",
          `Faults '${a.text}' and '${b.text}' act on ${a.target} at the same time; undoing one would undo the other.`,
          {
            hint: `Give them windows that do not overlap (e.g. start the second at ${formatMs(a.atMs + a.forMs)} or later).`,
            details: { faults: [a.text, b.text] },
          },
        );
      }
    }
  }
  return faults;
}

/** The fault's window must end before the run does, or the window has nothing to measure after it. */
export function assertFaultsFit(faults: readonly FaultSpec[], runMs: number): void {
  for (const f of faults) {
    if (f.atMs + f.forMs > runMs) {
      throw new InvalidInputError(
        "FAULT_OUTSIDE_RUN",
        `Fault '${f.text}' ends at ${formatMs(f.atMs + f.forMs)}, after the run ends at ${formatMs(runMs)}.`,
        {
          hint: "Lengthen --duration or start the fault earlier: recovery can only be measured inside the run.",
          details: { fault: f.text, runMs },
        },
      );
    }
  }
}

export function describeFault(f: FaultSpec): string {
  const what =
    f.action === "delay" ? `delay ${f.amount}ms on` : f.action === "loss" ? `loss ${f.amount}% on` : f.action;
  return `${what} ${f.target} from ${formatMs(f.atMs)} to ${formatMs(f.atMs + f.forMs)}`;
}

function parseAmount(
  raw: string,
  re: RegExp,
  min: number,
  max: number,
  what: string,
  fail: (what: string) => never,
): number {
  const m = re.exec(raw);
  const value = m ? Number(m[1]) : Number.NaN;
  if (!(value >= min && value <= max)) fail(`'${raw}' is not ${what}`);
  return value;
}

function parseFaultDuration(
  raw: string,
  what: string,
  zeroOk: boolean,
  fail: (what: string) => never,
): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(raw);
  if (!m) return fail(`${what} '${raw}' needs a unit: ms, s or m (e.g. 5s, 500ms)`);
  const ms = Math.round(Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1_000 : 60_000));
  if (!zeroOk && ms <= 0) fail(`${what} '${raw}' must be longer than 0`);
  if (ms > MAX_MS) fail(`${what} '${raw}' is longer than 24h`);
  return ms;
}

function formatMs(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}
