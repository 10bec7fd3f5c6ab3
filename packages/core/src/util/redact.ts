/**
 * Secrets (passwords, OpenNebula `user:password` sessions, API tokens) must never reach logs,
 * reports, state files or error messages. Everything that prints goes through `redact()`.
 */
const registered = new Set<string>();

export const REDACTED = "***";

/** Remember a secret so every later `redact()` call hides it. Short values are ignored: hiding "a" would mangle text. */
export function registerSecret(secret: string | undefined | null): void {
  if (!secret || secret.length < 4) return;
  registered.add(secret);
  // A `user:password` session leaks its password alone too.
  const colon = secret.indexOf(":");
  if (colon > 0 && secret.length - colon - 1 >= 4) registered.add(secret.slice(colon + 1));
}

export function clearRegisteredSecrets(): void {
  registered.clear();
}

const PATTERNS: Array<[RegExp, string]> = [
  // Authorization headers and bearer tokens.
  [/(authorization:\s*)(bearer|basic|pveapitoken=)?\s*[^\s"']+/gi, `$1$2 ${REDACTED}`],
  [/(PVEAPIToken=[^=\s]+=)[^\s"']+/g, `$1${REDACTED}`],
  // key=value and "key": "value" shapes for well-known secret names.
  [
    /((?:password|passwd|secret|token|session|api[_-]?key|access[_-]?key|client[_-]?secret)["']?\s*[:=]\s*["']?)([^\s"',&]+)/gi,
    `$1${REDACTED}`,
  ],
  // user:password@host in URLs.
  [/(\/\/[^/\s:@]+:)[^@\s/]+@/g, `$1${REDACTED}@`],
];

export function redact(text: string, extraSecrets: readonly string[] = []): string {
  let out = text;
  const secrets = [...registered, ...extraSecrets.filter((s) => s && s.length >= 4)].sort(
    (a, b) => b.length - a.length,
  );
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Deep-redacts a JSON-able value: secret-named keys are masked, every string is passed through `redact()`. */
export function redactValue<T>(value: T): T {
  return walk(value) as T;
}

const SECRET_KEY =
  /^(password|passwd|secret|token|session|apikey|api_key|accesskey|access_key|clientsecret|client_secret|auth)$/i;

function walk(value: unknown): unknown {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) return value.map(walk);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) && inner != null && inner !== "" ? REDACTED : walk(inner);
    }
    return out;
  }
  return value;
}
