export interface TextTableOptions {
  /** "numbers" (default): the first column left, the others right, so figures line up; "left": every column left. */
  align?: "numbers" | "left";
  /** A row of dashes under the header (default true). */
  rule?: boolean;
}

/** A plain-text table for terminals: columns as wide as their widest cell, two spaces between, no trailing blanks. */
export function textTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  options: TextTableOptions = {},
): string {
  const { align = "numbers", rule = true } = options;
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, i) =>
        align === "numbers" && i > 0 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  const ruleLine = rule ? [line(widths.map((w) => "-".repeat(w)))] : [];
  return [line(header), ...ruleLine, ...rows.map(line)].join("\n");
}
