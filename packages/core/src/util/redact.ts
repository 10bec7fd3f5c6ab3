/**
 * Secrets (passwords, OpenNebula `user:password` sessions, API tokens) must never reach logs,
 * reports, state files or error messages. Everything that prints goes through `redact()`.
 */
const registered = new Set<string>();

export const REDACTED = "***";

/**
 * Remember a secret so every later `redact()` call hides it, in every encoding it can travel in.
 * Short values are ignored: hiding "a" would mangle text.
 */
export function registerSecret(secret: string | undefined | null): void {
  if (!secret || secret.length < 4) return;
  for (const form of encodedForms(secret)) registered.add(form);
  // A `user:password` session leaks its password alone too.
  const colon = secret.indexOf(":");
  if (colon > 0 && secret.length - colon - 1 >= 4)
    for (const form of encodedForms(secret.slice(colon + 1))) registered.add(form);
}

/**
 * The secret as it appears after passing through XML (a server echoing it in a document or a fault),
 * a URL or form body, a JSON string (state files, --json) or base64 (Basic auth, cloud-init user-data),
 * and JSON of each of those. Base64 is matched at each of the three byte alignments a secret can have
 * inside a longer encoded text, without the characters that depend on its neighbours.
 */
export function encodedForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const xml = [
    escapeXmlWith(secret, { "'": "&apos;", '"': "&quot;" }),
    escapeXmlWith(secret, { "'": "&#39;", '"': "&#34;" }),
    escapeXmlWith(secret, { "'": "&#x27;", '"': "&#x22;" }),
    // Text content: many serializers escape only &, < and >.
    escapeXmlWith(secret, { "'": "'", '"': '"' }),
  ];
  const url = [
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    encodeURI(secret),
  ];
  for (const form of [...xml, ...url]) forms.add(form);
  for (const form of [...forms]) {
    const json = JSON.stringify(form).slice(1, -1);
    forms.add(json);
    // Go's encoding/json and others escape <, > and & (and ' in some) as \u00XX.
    forms.add(json.replace(/[<>&']/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  }
  for (const core of base64Cores(secret)) {
    forms.add(core);
    forms.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...forms].filter((f) => f.length >= 4);
}

function escapeXmlWith(text: string, quotes: { "'": string; '"': string }): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : quotes[c as "'" | '"'],
  );
}

/** Base64 of the secret at byte offsets 0, 1 and 2, cut to the characters made of its bytes alone. */
function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const start = offset === 0 ? 0 : offset + 1;
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    const core = encoded.slice(start, end);
    // Shorter cores would hide innocent base64 (histograms, keys) by chance.
    if (core.length >= 6) cores.push(core);
  }
  return cores;
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
  const extra = extraSecrets.filter((s) => s && s.length >= 4).flatMap(encodedForms);
  const secrets = [...new Set([...registered, ...extra])].sort((a, b) => b.length - a.length);
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
