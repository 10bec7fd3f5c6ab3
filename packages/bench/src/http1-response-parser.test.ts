import { describe, expect, it } from "vitest";
import {
  Http1ResponseParser,
  MAX_HEADER_BYTES,
  PARSE_DONE,
  PARSE_ERROR,
  PARSE_MORE,
} from "./http1-response-parser.js";

/** Feeds `wire` in pieces of `step` bytes; returns the outcome of the last piece fed and the parser. */
function feed(wire: string | Buffer, step = Number.POSITIVE_INFINITY, isHead = false) {
  const bytes = typeof wire === "string" ? Buffer.from(wire, "latin1") : wire;
  const parser = new Http1ResponseParser("X-Served-By");
  parser.begin(isHead);
  let outcome: number = PARSE_MORE;
  let offset = 0;
  for (let at = 0; at < bytes.length && outcome === PARSE_MORE; at += Math.min(step, bytes.length)) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + step));
    outcome = parser.execute(piece, 0, piece.length);
    offset = at;
  }
  return { outcome, parser, end: offset + parser.consumed };
}

const OK =
  "HTTP/1.1 200 OK\r\nX-Served-By: web1\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
const CHUNKED =
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-served-by: web2\r\n\r\n" +
  "5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: yes\r\n\r\n";

describe("HTTP/1.1 response parser", () => {
  it("reads a Content-Length response in one piece and byte by byte, with the backend header and every byte counted", () => {
    for (const step of [Number.POSITIVE_INFINITY, 1, 7]) {
      const { outcome, parser, end } = feed(OK, step);
      expect(outcome, `step ${step}`).toBe(PARSE_DONE);
      expect(parser.status).toBe(200);
      expect(parser.backend).toBe("web1");
      expect(parser.bytes).toBe(OK.length);
      expect(parser.keepAlive).toBe(true);
      expect(end).toBe(OK.length);
    }
  });

  it("reads chunked bodies (extensions, trailers) split anywhere", () => {
    for (let step = 1; step <= CHUNKED.length; step++) {
      const { outcome, parser } = feed(CHUNKED, step);
      expect(outcome, `step ${step}`).toBe(PARSE_DONE);
      expect(parser.backend).toBe("web2");
      expect(parser.bytes).toBe(CHUNKED.length);
    }
  });

  it("stops at the end of the response: what follows is left unread", () => {
    const { outcome, parser } = feed(`${OK}HTTP/1.1 200 OK\r\n`);
    expect(outcome).toBe(PARSE_DONE);
    expect(parser.consumed).toBe(OK.length);
  });

  it("skips interim 1xx responses and reports the final one", () => {
    const wire = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n${OK}`;
    for (const step of [Number.POSITIVE_INFINITY, 3]) {
      const { outcome, parser } = feed(wire, step);
      expect(outcome).toBe(PARSE_DONE);
      expect(parser.status).toBe(200);
      expect(parser.bytes).toBe(wire.length);
    }
  });

  it("expects no body after HEAD, 204 and 304 whatever Content-Length says", () => {
    const head = feed("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 1000, true);
    expect(head.outcome).toBe(PARSE_DONE);
    for (const status of ["204 No Content", "304 Not Modified"]) {
      const r = feed(`HTTP/1.1 ${status}\r\nContent-Length: 10\r\n\r\n`);
      expect(r.outcome, status).toBe(PARSE_DONE);
      expect(r.parser.keepAlive).toBe(true);
    }
  });

  it("knows when the connection ends after the response: Connection: close, HTTP/1.0, a body read until close", () => {
    expect(feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").parser.keepAlive).toBe(
      false,
    );
    expect(feed("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").parser.keepAlive).toBe(false);
    expect(
      feed("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").parser.keepAlive,
    ).toBe(true);
    const untilClose = feed("HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\n\r\nbody bytes");
    expect(untilClose.outcome).toBe(PARSE_MORE);
    expect(untilClose.parser.finishOnClose()).toBe(true);
    expect(untilClose.parser.status).toBe(200);
    expect(untilClose.parser.keepAlive).toBe(false);
    // A connection that closes mid-body did not deliver the response.
    const cut = feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    expect(cut.outcome).toBe(PARSE_MORE);
    expect(cut.parser.finishOnClose()).toBe(false);
  });

  it("rejects malformed responses with an error code instead of waiting", () => {
    const cases: Array<[string, string]> = [
      ["HTTP/2 200 OK\r\n\r\n", "HPE_INVALID_CONSTANT"],
      ["hello world\r\n\r\n", "HPE_INVALID_CONSTANT"],
      ["HTTP/1.1 2x0 OK\r\n\r\n", "HPE_INVALID_STATUS"],
      ["HTTP/1.1 099 Odd\r\n\r\n", "HPE_INVALID_STATUS"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH"],
      ["HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", "HPE_INVALID_HEADER_TOKEN"],
      ["HTTP/1.1 200 OK\nA: b\r\n\r\n", "HPE_STRICT"],
      ["HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "HPE_STRICT"],
      ["HTTP/1.1 200 OK\r\nA: b\nc\r\n\r\n", "HPE_STRICT"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HPE_INVALID_CHUNK_SIZE"],
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", "HPE_STRICT"],
      ["HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "HPE_UNEXPECTED_UPGRADE"],
    ];
    for (const [wire, code] of cases) {
      for (const step of [Number.POSITIVE_INFINITY, 1]) {
        const { outcome, parser } = feed(wire, step);
        expect(outcome, JSON.stringify(wire)).toBe(PARSE_ERROR);
        expect(parser.error, JSON.stringify(wire)).toBe(code);
        expect(parser.keepAlive).toBe(false);
      }
    }
  });

  it("refuses a header block that never ends instead of buffering it without bound", () => {
    const endless = Buffer.from(`HTTP/1.1 200 OK\r\nX-Long: ${"a".repeat(MAX_HEADER_BYTES)}`, "latin1");
    const { outcome, parser } = feed(endless, 4096);
    expect(outcome).toBe(PARSE_ERROR);
    expect(parser.error).toBe("HPE_HEADER_OVERFLOW");
  });

  it("is reusable: begin() forgets the previous response", () => {
    const parser = new Http1ResponseParser("x-served-by");
    for (const wire of [CHUNKED, OK, CHUNKED]) {
      parser.begin(false);
      const bytes = Buffer.from(wire, "latin1");
      expect(parser.execute(bytes, 0, bytes.length)).toBe(PARSE_DONE);
      expect(parser.bytes).toBe(bytes.length);
    }
    expect(parser.backend).toBe("web2");
  });
});
