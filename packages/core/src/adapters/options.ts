import { readFileSync } from "node:fs";
import type { Finding } from "../deploy-rules/findings.js";
import { platformOptions } from "../deploy-rules/rules.js";
import type { DeploySpec, PlatformName } from "../deploy-rules/spec.js";
import { PlatformConfigError } from "../errors.js";

/** Reads string/number/boolean settings from `platform_options.<platform>`. */
export class OptionReader {
  readonly values: Record<string, unknown>;
  constructor(
    readonly platform: PlatformName,
    spec: DeploySpec | undefined,
    overrides: Record<string, unknown> = {},
  ) {
    this.values = { ...(spec ? platformOptions(spec, platform) : {}), ...stripUndefined(overrides) };
  }

  string(key: string): string | undefined {
    const v = this.values[key];
    return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
  }

  requireString(key: string, envName?: string, env: NodeJS.ProcessEnv = process.env): string {
    const v = this.string(key) ?? (envName ? env[envName] : undefined);
    if (v) return v;
    throw new PlatformConfigError(
      "PLATFORM_OPTION_MISSING",
      `${this.platform} needs platform_options.${this.platform}.${key}${envName ? ` (or $${envName})` : ""}.`,
      { hint: `Add "platform_options": {"${this.platform}": {"${key}": ...}} to the spec.` },
    );
  }

  number(key: string): number | undefined {
    const v = this.values[key];
    if (typeof v === "number") return v;
    if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
    return undefined;
  }

  bool(key: string): boolean | undefined {
    const v = this.values[key];
    return typeof v === "boolean" ? v : undefined;
  }

  /** PEM text of `ca_file`, read when the client is built. */
  caPem(): string | undefined {
    const path = this.string("ca_file");
    return path ? readFileSync(path, "utf8") : undefined;
  }
}

/** A finding for a required platform option that is absent (validate reports it before any call). */
export function missingOption(
  platform: PlatformName,
  key: string,
  example: string,
  envName?: string,
): Finding {
  return {
    code: "PLATFORM_OPTION_MISSING",
    severity: "error",
    field: `platform_options.${platform}.${key}`,
    message: `${platform} needs platform_options.${platform}.${key}${envName ? ` (or $${envName})` : ""}.`,
    fix: `Add "platform_options": {"${platform}": {"${key}": ${example}}}.`,
  };
}

/** A credential from the environment, or PLATFORM_CREDENTIALS_MISSING naming the variables. */
export function requireEnv(
  platform: string,
  names: readonly string[],
  env: NodeJS.ProcessEnv,
  what: string,
): string[] {
  const missing = names.filter((n) => !env[n]);
  if (missing.length > 0) {
    throw new PlatformConfigError(
      "PLATFORM_CREDENTIALS_MISSING",
      `${platform} ${what} is not set: $${missing.join(", $")} missing.`,
      {
        hint: `Export ${missing.join(" and ")} (credentials are read from the environment and never written to specs or logs).`,
      },
    );
  }
  return names.map((n) => env[n] as string);
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
