import { errorClassesIn, exitCodeOf, LabgateError, type LabgateErrorClass } from "../errors.js";

export { errorClassesIn };

import { ExitCode } from "../exit-codes.js";

/** The classes that declare `code` in their own table, in the order given. */
function owners(classes: readonly LabgateErrorClass[], code: string): LabgateErrorClass[] {
  return classes.filter((c) => Object.hasOwn(c, "codes") && Object.hasOwn(c.codes, code));
}

function isBelow(sub: LabgateErrorClass, base: LabgateErrorClass): boolean {
  return Object.prototype.isPrototypeOf.call(base, sub);
}

const EXIT_CODES = new Set<number>(Object.values(ExitCode));

/**
 * What is wrong with one package's code tables (empty when nothing is):
 * - every class declares its own non-empty table (a class without one would silently carry its parent's codes);
 * - every code's exit code is one of ExitCode;
 * - a code is declared by one class only, unless the others are subclasses of it (a more specific kind of the
 *   same failure, e.g. LxdUnreachableError under PreconditionError), and then with the same exit code;
 * - a class adopts only classes of the same package.
 */
export function codeTableProblems(classes: readonly LabgateErrorClass[]): string[] {
  const problems: string[] = [];
  for (const c of classes) {
    if (!Object.hasOwn(c, "codes")) {
      problems.push(`${c.name} declares no codes of its own`);
      continue;
    }
    const codes = Object.keys(c.codes);
    if (codes.length === 0) problems.push(`${c.name} declares an empty code table`);
    for (const code of codes) {
      const exit = c.codes[code];
      if (exit === undefined || !EXIT_CODES.has(exit))
        problems.push(`${c.name}: ${code} maps to ${String(exit)}, which is not an ExitCode`);
      // The owner is the first declarer with no other declarer above it; the rest must be its subclasses.
      const declaredBy = owners(classes, code);
      const top = declaredBy.find((o) => !declaredBy.some((other) => other !== o && isBelow(o, other)));
      if (top === undefined || top === c) continue;
      if (!isBelow(c, top))
        problems.push(`${code} is declared by both ${top.name} and ${c.name}, which are not one kind`);
      else if (exit !== top.codes[code])
        problems.push(`${code} is exit ${top.codes[code]} in ${top.name} but exit ${exit} in ${c.name}`);
    }
    for (const adopted of Object.hasOwn(c, "adopts") ? c.adopts : [])
      if (!classes.includes(adopted))
        problems.push(`${c.name} adopts ${adopted.name}, not one of this package's`);
  }
  return problems;
}

/** Every code the classes can carry (their own and adopted tables), with its exit code. */
export function exitCodesByCode(classes: readonly LabgateErrorClass[]): Map<string, Set<number>> {
  const byCode = new Map<string, Set<number>>();
  for (const c of classes) {
    const adopted = Object.hasOwn(c, "adopts") ? c.adopts : [];
    for (const table of [c.codes, ...adopted.map((a) => a.codes)])
      for (const [code, exit] of Object.entries(table)) {
        const exits = byCode.get(code) ?? new Set<number>();
        exits.add(exit);
        byCode.set(code, exits);
      }
  }
  return byCode;
}

/** Builds one error of `errorClass` carrying `code`; the default suits constructors that take the code first. */
export type ErrorFactory = (code: string) => LabgateError<never>;

/**
 * Constructs every class with every code of its table and reports each error whose `code` or `exitCode` is not
 * the table's: proves the constructors really take their exit code from the table. `factories` covers the
 * classes whose constructor does not start with (code or message, message or hint, ...) strings.
 */
export function constructionProblems(
  classes: readonly LabgateErrorClass[],
  factories: ReadonlyMap<LabgateErrorClass, ErrorFactory> = new Map(),
): string[] {
  const problems: string[] = [];
  for (const c of classes) {
    const make =
      factories.get(c) ??
      ((code: string) =>
        new (c as unknown as new (...args: unknown[]) => LabgateError<never>)(code, "the message", {
          hint: "h",
        }));
    for (const code of Object.keys(c.codes)) {
      const error = make(code);
      if (!(error instanceof LabgateError) || error.name !== c.name)
        problems.push(`${c.name}: the factory for ${code} built ${error?.name}`);
      else if (error.code !== code) problems.push(`${c.name}: built with ${code}, carries ${error.code}`);
      else if (error.exitCode !== exitCodeOf(c, code))
        problems.push(`${c.name}: ${code} exits ${error.exitCode}, its table says ${exitCodeOf(c, code)}`);
    }
  }
  return problems;
}
