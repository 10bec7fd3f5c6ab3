/**
 * Greedy word wrap for terminal text: words stay whole (one longer than `width` gets a line of its own),
 * runs of blanks fold to one space, and each "\n" starts a new paragraph, so an empty one stays an empty line.
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}
