/**
 * The one reader of a lab spec's `providerOptions`: each provider describes its options once (kind,
 * default, allowed values) and gets back typed values plus findings that name the field, say what is
 * wrong and what to do. Unknown keys are findings too: a misspelt key would otherwise be ignored
 * without a word and its default used. Values are never quoted for unknown keys or secret fields.
 */

/** One problem with one option. */
export interface OptionFinding {
  /** Dotted path from providerOptions, e.g. "providerOptions.ssh.port". */
  field: string;
  /** What is wrong, e.g. `"ftp" is not auto, cloud-init or push`. */
  problem: string;
  /** What to do about it. */
  fix: string;
}

/** How one option is read: the typed value, or undefined after pushing a finding. */
export interface OptionField<T> {
  read(value: unknown, field: string, findings: OptionFinding[]): T;
}

export type OptionSchema = Record<string, OptionField<unknown>>;
export type OptionValues<S extends OptionSchema> = {
  [K in keyof S]: S[K] extends OptionField<infer T> ? T : never;
};

export interface ReadOptions<S extends OptionSchema> {
  value: OptionValues<S>;
  findings: OptionFinding[];
}

/** Reads `raw` (the spec's providerOptions, or a nested object) against `schema`. Pure. */
export function readOptions<S extends OptionSchema>(
  raw: unknown,
  schema: S,
  where = "providerOptions",
): ReadOptions<S> {
  const findings: OptionFinding[] = [];
  const value = readObject(raw ?? {}, schema, where, findings);
  return { value: value as OptionValues<S>, findings };
}

function readObject(raw: unknown, schema: OptionSchema, where: string, findings: OptionFinding[]): unknown {
  const known = Object.keys(schema);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    findings.push({
      field: where,
      problem: `is not an object with ${known.join(", ")}, got ${describe(raw)}`,
      fix: `Write ${where} as a mapping of option names to values.`,
    });
    return {};
  }
  const given = raw as Record<string, unknown>;
  const unknown = Object.keys(given).filter((key) => !Object.hasOwn(schema, key));
  if (unknown.length) {
    findings.push({
      field: where,
      problem: `unknown option${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`,
      fix: `Fix the spelling; the known options are ${known.join(", ")}.`,
    });
  }
  const out: Record<string, unknown> = {};
  for (const key of known) {
    const value = schema[key]?.read(given[key], `${where}.${key}`, findings);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** A short, safe description of a wrong value: its JSON for plain scalars, else its kind. */
function describe(value: unknown, secret = false): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (secret) return `a ${typeof value}`;
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  return `${typeof value} ${String(value)}`;
}

interface Common<T> {
  default?: T;
  /** A value never printed (sessions, passwords). */
  secret?: boolean;
  /** Shown with the fix, e.g. "e.g. storagePool: default". */
  example?: string;
}

function field<T>(
  kind: string,
  options: Common<T>,
  check: (value: unknown) => T | { problem: string },
): OptionField<T | undefined> {
  return {
    read(value, name, findings) {
      if (value === undefined) return options.default;
      const result = check(value);
      if (typeof result === "object" && result !== null && "problem" in (result as object)) {
        findings.push({
          field: name,
          problem: `${(result as { problem: string }).problem}, got ${describe(value, options.secret)}`,
          fix: `Give ${name} as ${kind}${options.example ? ` (${options.example})` : ""}, or leave it out${
            options.default !== undefined ? ` for the default ${JSON.stringify(options.default)}` : ""
          }.`,
        });
        return options.default;
      }
      return result as T;
    },
  };
}

interface NumberBounds {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  integer?: boolean;
}

/** The typed field constructors: `opts.string()`, `opts.number({ default: 1, min: 0 })`, ... */
export const opts = {
  /**
   * A non-empty string. `plain` refuses control and format characters (newline, NUL, bidi overrides):
   * in a path or program name they would split or disguise a printed command.
   */
  string(options: Common<string> & { plain?: boolean } = {}): OptionField<string | undefined> {
    return field("a string", options, (v) => {
      if (typeof v !== "string" || v.trim() === "") return { problem: "is not a non-empty string" };
      if (options.plain && /[\p{Cc}\p{Cf}]/u.test(v))
        return { problem: "contains control or format characters" };
      return v;
    });
  },
  /** A string with a default: never undefined. */
  stringOr(
    defaultValue: string,
    options: Omit<Common<string>, "default"> & { plain?: boolean } = {},
  ): OptionField<string> {
    return opts.string({ ...options, default: defaultValue }) as OptionField<string>;
  },
  number(options: Common<number> & NumberBounds = {}): OptionField<number | undefined> {
    const { min, max, above } = options;
    const kind = options.integer ? "a whole number" : "a number";
    const what =
      min !== undefined && max !== undefined
        ? `${kind} from ${min} to ${max}`
        : above !== undefined
          ? `${kind} above ${above}`
          : min !== undefined
            ? `${kind} of at least ${min}`
            : kind;
    return field(what, options, (v) => {
      const ok =
        typeof v === "number" &&
        Number.isFinite(v) &&
        (!options.integer || Number.isInteger(v)) &&
        (min === undefined || v >= min) &&
        (max === undefined || v <= max) &&
        (above === undefined || v > above);
      return ok ? v : { problem: `is not ${what}` };
    });
  },
  numberOr(
    defaultValue: number,
    options: Omit<Common<number>, "default"> & NumberBounds = {},
  ): OptionField<number> {
    return opts.number({ ...options, default: defaultValue }) as OptionField<number>;
  },
  boolean(options: Common<boolean> = {}): OptionField<boolean | undefined> {
    return field("true or false", options, (v) =>
      typeof v === "boolean" ? v : { problem: "is not true or false" },
    );
  },
  /** One of a fixed set of strings. */
  oneOf<const V extends string>(values: readonly V[], options: Common<V> = {}): OptionField<V | undefined> {
    const list = `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
    return field(`one of ${list}`, options, (v) =>
      typeof v === "string" && (values as readonly string[]).includes(v)
        ? (v as V)
        : { problem: `is not ${list}` },
    );
  },
  oneOfOr<const V extends string>(values: readonly V[], defaultValue: V): OptionField<V> {
    return opts.oneOf(values, { default: defaultValue }) as OptionField<V>;
  },
  /** A list of strings. */
  strings(options: Common<string[]> = {}): OptionField<string[] | undefined> {
    return field("a list of strings", options, (v) =>
      Array.isArray(v) && v.every((s) => typeof s === "string")
        ? (v as string[])
        : { problem: "is not a list of strings" },
    );
  },
  /** A nested object read against its own schema (unknown keys in it are findings too). */
  object<S extends OptionSchema>(schema: S): OptionField<OptionValues<S> | undefined> {
    return {
      read(value, name, findings) {
        if (value === undefined) return undefined;
        return readObject(value, schema, name, findings) as OptionValues<S>;
      },
    };
  },
  /** A value another module validates (it has its own precise messages): passed through as given. */
  passThrough(): OptionField<unknown> {
    return { read: (value) => value };
  },
  /** A field that must be present (a nested object's `host`, say). */
  required<T>(inner: OptionField<T | undefined>, example: string): OptionField<T> {
    return {
      read(value, name, findings) {
        if (value === undefined) {
          findings.push({ field: name, problem: "is missing", fix: `Add it, e.g. ${example}.` });
          return undefined as T;
        }
        return inner.read(value, name, findings) as T;
      },
    };
  },
};
