import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { findLocalLxdDaemon, lxdDaemonPaths } from "./lxd-daemon.js";

describe("where the LXD daemon logs and listens", () => {
  it("started by hand: the --logfile it was given (both spellings), socket under /var/lib/lxd or LXD_DIR", () => {
    expect(lxdDaemonPaths(["lxd", "--group", "root", "--logfile", "/tmp/lxd.log"], {})).toEqual({
      install: "binary",
      socket: "/var/lib/lxd/unix.socket",
      logFile: "/tmp/lxd.log",
      logCommand: "tail -n 50 /tmp/lxd.log",
    });
    expect(
      lxdDaemonPaths(["/opt/lxd/bin/lxd", "--logfile=/srv/my logs/lxd.log"], { LXD_DIR: "/srv/lxd" }),
    ).toMatchObject({
      socket: "/srv/lxd/unix.socket",
      logCommand: "tail -n 50 '/srv/my logs/lxd.log'",
    });
  });

  it("snap: the snap's log file and socket; package under systemd: the journal", () => {
    expect(
      lxdDaemonPaths(
        ["/snap/lxd/current/sbin/lxd", "--logfile", "/var/snap/lxd/common/lxd/logs/lxd.log"],
        {},
      ),
    ).toMatchObject({
      install: "snap",
      socket: "/var/snap/lxd/common/lxd/unix.socket",
      logCommand: "tail -n 50 /var/snap/lxd/common/lxd/logs/lxd.log",
    });
    expect(lxdDaemonPaths(["/snap/lxd/current/sbin/lxd"], { SNAP_NAME: "lxd" })).toMatchObject({
      install: "snap",
      logFile: "/var/snap/lxd/common/lxd/logs/lxd.log",
    });
    expect(lxdDaemonPaths(["/usr/bin/lxd", "--group", "lxd"], {})).toEqual({
      install: "package",
      socket: "/var/lib/lxd/unix.socket",
      logCommand: "journalctl -u lxd --no-pager -n 50",
    });
  });

  it("on this machine: the running daemon's own arguments decide (compared with ps)", () => {
    const ps = (() => {
      try {
        return execFileSync("ps", ["-o", "args=", "-C", "lxd"], { encoding: "utf8" });
      } catch {
        return "";
      }
    })();
    const daemon = ps.split("\n").find((l) => /^\S*lxd( -|$)/.test(l.trim()));
    const found = findLocalLxdDaemon();
    if (!daemon) {
      expect(found.install).toBe("not running");
      return;
    }
    const logfile = /--logfile[= ](\S+)/.exec(daemon)?.[1];
    if (logfile) expect(found.logCommand).toBe(`tail -n 50 ${logfile}`);
    expect(found.pid).toBeGreaterThan(0);
    expect(found.logCommand).not.toContain("undefined");
  });
});
