/**
 * Escapes text for XML and HTML (element content and quoted attributes) with the five named entities, so one
 * spelling reaches every output and redact() finds a secret in it.
 */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
