import { ExitCode, LxdApiError, PreconditionError } from "@labgate/core";
import { describe, expect, it } from "vitest";
import { explainBridgeCreateError } from "./bridge-create-error.js";

// LXD 5.0.2's own message on a Debian host without dnsmasq-base (seen on this project's CI machine).
const NO_DNSMASQ =
  'LXD rejected POST /1.0/networks (HTTP 500): Failed to check dnsmasq version: Failed to run: dnsmasq --version: exec: "dnsmasq": executable file not found in $PATH.';

describe("explainBridgeCreateError", () => {
  it("a missing dnsmasq becomes a precondition failure whose message carries the install command", () => {
    const cause = new LxdApiError(500, NO_DNSMASQ);
    const error = explainBridgeCreateError(cause, "lg-demo") as PreconditionError;
    expect(error).toBeInstanceOf(PreconditionError);
    expect(error.code).toBe("LXD_HOST_TOOL_MISSING");
    expect(error.exitCode).toBe(ExitCode.PRECONDITION);
    expect(error.message).toContain("lg-demo");
    expect(error.message).toContain("apt-get install -y dnsmasq-base");
    expect(error.cause).toBe(cause);
  });

  it("a missing iptables names its package", () => {
    const cause = new LxdApiError(
      500,
      'Failed to setup firewall: exec: "iptables": executable file not found in $PATH',
    );
    expect((explainBridgeCreateError(cause, "lg-demo") as Error).message).toContain(
      "apt-get install -y iptables",
    );
  });

  it("other LXD errors pass through unchanged", () => {
    const cause = new LxdApiError(400, 'Invalid value for network "ipv4.address"');
    expect(explainBridgeCreateError(cause, "lg-demo")).toBe(cause);
    const plain = new Error("dnsmasq");
    expect(explainBridgeCreateError(plain, "lg-demo")).toBe(plain);
  });
});
