import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePorts } from "../../test-support/free-ports.js";
import { canListen, describePortOwners, findPortOwners } from "./port-owner.js";

describe("port owners", () => {
  it("finds the pid and command holding a listening port, and nothing on a free one", async () => {
    const [port] = await freePorts(1);
    expect(await canListen("127.0.0.1", port!)).toBe(true);
    expect(await findPortOwners(port!)).toEqual([]);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port }, resolve));
    try {
      expect(await canListen("127.0.0.1", port!)).toBe(false);
      const owners = await findPortOwners(port!);
      expect(owners).toEqual([expect.objectContaining({ pid: process.pid, address: "127.0.0.1" })]);
      expect(describePortOwners(owners)).toMatch(
        new RegExp(`^pid ${process.pid} \\(.*node.*\\) on 127\\.0\\.0\\.1$`),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
