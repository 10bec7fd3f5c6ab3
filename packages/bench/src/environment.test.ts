import { describe, expect, it } from "vitest";
import {
  captureEnvironment,
  environmentDifferences,
  labFingerprint,
  publicCommandLine,
} from "./environment.js";

describe("environment", () => {
  it("records the command line without secrets or bodies", () => {
    expect(
      publicCommandLine([
        "labgate",
        "bench",
        "run",
        "--url",
        "http://user:hunter2@127.0.0.1:8080/",
        "-H",
        "Authorization: Bearer abc.def",
        "--header=X-Api-Key: k123",
        "-H",
        "Accept: application/json",
        "-b",
        '{"text":"private"}',
        "--rate",
        "100",
      ]),
    ).toEqual([
      "labgate",
      "bench",
      "run",
      "--url",
      "http://user:***@127.0.0.1:8080/",
      "-H",
      "Authorization: ***",
      "--header=X-Api-Key: ***",
      "-H",
      "Accept: application/json",
      "-b",
      "<18-byte body>",
      "--rate",
      "100",
    ]);
  });

  it("captures versions, CPUs and the lab, and names what differs between two runs", () => {
    const lab = labFingerprint({
      provider: "lxd",
      topology: "1 LB + 2 apps",
      haproxyConfig: "frontend fe\n",
    });
    expect(lab.haproxyConfigSha256).toMatch(/^[0-9a-f]{64}$/);
    const a = captureEnvironment({ engine: "undici", workers: 2 }, { commandLine: ["labgate"], lab });
    expect(a).toMatchObject({ node: process.version, engine: "undici", workers: 2, lab });
    expect(a.cpus.count).toBeGreaterThan(0);
    expect(environmentDifferences(a, a)).toEqual([]);
    const b = {
      ...a,
      lab: labFingerprint({ provider: "lxd", topology: "1 LB + 2 apps", haproxyConfig: "frontend fe2\n" }),
    };
    expect(environmentDifferences(a, b)).toEqual([
      expect.stringMatching(/^The labs' HAProxy configurations \(sha256\) differ/),
    ]);
    expect(environmentDifferences(a, undefined)).toEqual([
      expect.stringMatching(/Only one of the runs recorded/),
    ]);
  });
});
