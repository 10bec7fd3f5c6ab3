import { describe, expect, it } from "vitest";
import { wrapText } from "./wrap.js";

describe("wrapText", () => {
  it("fills each line with as many whole words as fit the width", () => {
    expect(wrapText("the quick brown fox jumps over the lazy dog", 15)).toEqual([
      "the quick brown",
      "fox jumps over",
      "the lazy dog",
    ]);
  });

  it("gives a word longer than the width a line of its own instead of cutting it", () => {
    expect(wrapText("see https://example.invalid/a/very/long/path now", 10)).toEqual([
      "see",
      "https://example.invalid/a/very/long/path",
      "now",
    ]);
  });

  it("folds runs of blanks and tabs to one space", () => {
    expect(wrapText("  a \t b   c  ", 80)).toEqual(["a b c"]);
  });

  it("starts a new paragraph at each newline and keeps an empty paragraph as an empty line", () => {
    expect(wrapText("first part\n\nsecond part here", 11)).toEqual(["first part", "", "second part", "here"]);
  });
});
