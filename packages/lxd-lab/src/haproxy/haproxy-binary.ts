import { PreconditionError } from "@labgate/core";
import { execa } from "execa";

export interface HaproxyInfo {
  /** The command used to run it ("haproxy" or an absolute path). */
  bin: string;
  /** e.g. "2.6.12-1+deb12u4". */
  version: string;
  major: number;
  minor: number;
  /** Built with USE_PROMEX: `http-request use-service prometheus-exporter` is available. */
  prometheus: boolean;
}

/** Runs `haproxy -vv` and reads the version and whether the Prometheus exporter is built in. */
export async function detectHaproxy(bin = "haproxy"): Promise<HaproxyInfo> {
  // execa with reject: false reports a missing binary or a timeout in the result, not by throwing.
  const result = await execa(bin, ["-vv"], { all: true, reject: false, timeout: 10_000 });
  if (result.failed && !result.all) {
    throw new PreconditionError(
      "HAPROXY_MISSING",
      `HAProxy is not installed or cannot run (${bin} -vv failed: ${result.shortMessage}).`,
      {
        hint: "Install it: `sudo apt-get install -y haproxy` (Debian/Ubuntu), then re-run.",
        ...(result.cause === undefined ? {} : { cause: result.cause }),
        details: { bin, exitCode: result.exitCode },
      },
    );
  }
  return parseHaproxyVersionOutput(bin, result.all ?? "");
}

export function parseHaproxyVersionOutput(bin: string, output: string): HaproxyInfo {
  const match = /HA-?Proxy version (\S+)/i.exec(output);
  const version = match?.[1];
  const numbers = version ? /^(\d+)\.(\d+)/.exec(version) : null;
  if (!version || !numbers) {
    throw new PreconditionError("HAPROXY_MISSING", `\`${bin} -vv\` did not print an HAProxy version.`, {
      hint: "Check that `haproxy` on PATH is HAProxy (`haproxy -vv`); install it with `sudo apt-get install -y haproxy`.",
      details: { bin, output: output.slice(0, 300) },
    });
  }
  return {
    bin,
    version,
    major: Number(numbers[1]),
    minor: Number(numbers[2]),
    prometheus: /Prometheus exporter/i.test(output) || /USE_PROMEX=1/.test(output),
  };
}

/** `http-check send hdr ...` (used in the health check we render) exists since HAProxy 2.2. */
export function haproxySupportsHttpCheckSend(info: HaproxyInfo): boolean {
  return info.major > 2 || (info.major === 2 && info.minor >= 2);
}
