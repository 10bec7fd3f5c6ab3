import { describe, expect, it } from "vitest";
import { textTable } from "./text-table.js";

describe("textTable", () => {
  const header = ["metric", "p50", "p99"];
  const rows = [
    ["latency", "1.2 ms", "18.0 ms"],
    ["throughput rps", "950", "1000"],
  ];

  it("lines up figures: the first column left, the others right, a rule under the header", () => {
    expect(textTable(header, rows)).toBe(
      [
        "metric             p50      p99",
        "--------------  ------  -------",
        "latency         1.2 ms  18.0 ms",
        "throughput rps     950     1000",
      ].join("\n"),
    );
  });

  it("lists left-aligned without a rule, a missing cell as empty, no trailing blanks", () => {
    expect(
      textTable(
        ["IP", "OWNER", "NOTE"],
        [
          ["192.168.3.30", "web1"],
          ["192.168.3.254", "a-long-owner", ""],
        ],
        {
          align: "left",
          rule: false,
        },
      ),
    ).toBe(
      ["IP             OWNER         NOTE", "192.168.3.30   web1", "192.168.3.254  a-long-owner"].join("\n"),
    );
  });
});
