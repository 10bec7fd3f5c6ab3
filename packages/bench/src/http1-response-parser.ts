/**
 * A strict, small HTTP/1.1 response parser for the net engine (RFC 9112): one response at a time
 * (pipelining 1), fed the bytes of a connection as they arrive. It reads the status line, the
 * headers the engine needs (Content-Length, Transfer-Encoding, Connection, the backend header),
 * then the body by length, chunked, or until the connection closes. 1xx responses are skipped;
 * HEAD, 204 and 304 have no body. Anything malformed ends the response with an llhttp-style error
 * code (the codes undici and Node's own client report), never a wait for bytes that cannot come.
 */

export const PARSE_MORE = 0;
export const PARSE_DONE = 1;
export const PARSE_ERROR = 2;
export type ParseOutcome = typeof PARSE_MORE | typeof PARSE_DONE | typeof PARSE_ERROR;

/** Largest status line + header block accepted (Node's http client allows 16 KiB; HAProxy 16 KiB by default). */
export const MAX_HEADER_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;

const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_CR = 4;
const CHUNK_LF = 5;
const TRAILERS = 6;
const UNTIL_CLOSE = 7;
const DONE = 8;

const CR = 13;
const LF = 10;
const CONTENT_LENGTH = Buffer.from("content-length", "latin1");
const TRANSFER_ENCODING = Buffer.from("transfer-encoding", "latin1");
const CONNECTION = Buffer.from("connection", "latin1");

export class Http1ResponseParser {
  /** Final (non-1xx) status; 0 until its status line is read. */
  status = 0;
  /** Value of the backend header, when the response carried it. */
  backend: string | undefined;
  /** Bytes of this exchange's responses (1xx included): status lines, headers, framing and body. */
  bytes = 0;
  /** Whether the connection may carry the next request once this response is complete. */
  keepAlive = true;
  /** After PARSE_DONE: the offset in the last chunk just past the response. */
  consumed = 0;
  /** After PARSE_ERROR: what was wrong (an llhttp-style code, e.g. HPE_INVALID_STATUS). */
  error = "";
  /** Whether any byte of the response has arrived. */
  started = false;

  private state = HEAD;
  private noBody = false;
  private remaining = 0;
  private head: Buffer | null = null;
  private line = "";
  private readonly backendName: Buffer;
  private lastBackendBytes: Buffer = Buffer.alloc(0);
  private lastBackend = "";

  constructor(backendHeader: string) {
    this.backendName = Buffer.from(backendHeader.toLowerCase(), "latin1");
  }

  /** Ready for the response to the next request (`isHead`: it was a HEAD request, no body follows). */
  begin(isHead: boolean): void {
    this.status = 0;
    this.backend = undefined;
    this.bytes = 0;
    this.keepAlive = true;
    this.consumed = 0;
    this.error = "";
    this.started = false;
    this.state = HEAD;
    this.noBody = isHead;
    this.remaining = 0;
    this.head = null;
    this.line = "";
  }

  /** Parses `buf[start, end)`. Bytes after a complete response are left unread (see `consumed`). */
  execute(buf: Buffer, start: number, end: number): ParseOutcome {
    if (end > start) this.started = true;
    let pos = start;
    while (pos < end || this.state === DONE) {
      switch (this.state) {
        case HEAD: {
          const next = this.readHead(buf, pos, end);
          if (next < 0) return next === -1 ? PARSE_MORE : PARSE_ERROR;
          pos = next;
          break;
        }
        case BODY_LENGTH:
        case CHUNK_DATA: {
          // A counted run of body bytes: the whole body by Content-Length, or one chunk's data.
          const take = Math.min(this.remaining, end - pos);
          pos += take;
          this.bytes += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = this.state === BODY_LENGTH ? DONE : CHUNK_CR;
          break;
        }
        case CHUNK_CR:
        case CHUNK_LF: {
          const expected = this.state === CHUNK_CR ? CR : LF;
          if (buf[pos] !== expected) return this.fail("HPE_STRICT");
          pos++;
          this.bytes++;
          this.state = this.state === CHUNK_CR ? CHUNK_LF : CHUNK_SIZE;
          break;
        }
        case CHUNK_SIZE:
        case TRAILERS: {
          const next = this.readLine(buf, pos, end);
          if (next < 0) return next === -1 ? PARSE_MORE : PARSE_ERROR;
          pos = next;
          break;
        }
        case UNTIL_CLOSE:
          this.bytes += end - pos;
          pos = end;
          break;
        case DONE:
          this.consumed = pos;
          return PARSE_DONE;
      }
    }
    return PARSE_MORE;
  }

  /** The connection closed: true when that completes the response (a body read until close). */
  finishOnClose(): boolean {
    if (this.state === UNTIL_CLOSE) {
      this.state = DONE;
      this.keepAlive = false;
      return true;
    }
    return this.state === DONE;
  }

  private fail(code: string): typeof PARSE_ERROR {
    this.error = code;
    this.keepAlive = false;
    return PARSE_ERROR;
  }

  /** fail() for the readers, which answer with offsets: -2 is "malformed". */
  private failed(code: string): number {
    this.fail(code);
    return -2;
  }

  /** Status line and headers: parsed once the whole block is here. Returns the offset after it, -1 (more), -2 (error). */
  private readHead(buf: Buffer, pos: number, end: number): number {
    let block = buf;
    let from = pos;
    let to = end;
    if (this.head) {
      block = Buffer.concat([this.head, buf.subarray(pos, end)]);
      from = 0;
      to = block.length;
    }
    const blockEnd = headEnd(block, from, to);
    if (blockEnd < 0) {
      if (to - from > MAX_HEADER_BYTES) return this.failed("HPE_HEADER_OVERFLOW");
      this.head = Buffer.from(block.subarray(from, to));
      return -1;
    }
    if (blockEnd - from > MAX_HEADER_BYTES) return this.failed("HPE_HEADER_OVERFLOW");
    const error = this.parseHead(block, from, blockEnd);
    if (error) return this.failed(error);
    this.bytes += blockEnd - from;
    // Offset in `buf`: what of the block came from earlier chunks was kept in `head`.
    const prior = this.head ? this.head.length : 0;
    this.head = null;
    return pos + (blockEnd - from) - prior;
  }

  /** Reads the head in block[from, end) (ending in CRLF CRLF); returns an error code or "". */
  private parseHead(b: Buffer, from: number, end: number): string {
    // "HTTP/1.x SSS" then a space and a reason, or the end of the line.
    if (
      end - from < 14 ||
      b[from] !== 72 ||
      b[from + 1] !== 84 ||
      b[from + 2] !== 84 ||
      b[from + 3] !== 80 ||
      b[from + 4] !== 47 ||
      b[from + 5] !== 49 ||
      b[from + 6] !== 46 ||
      (b[from + 7] !== 48 && b[from + 7] !== 49) ||
      b[from + 8] !== 32
    ) {
      return "HPE_INVALID_CONSTANT";
    }
    const http10 = b[from + 7] === 48;
    let status = 0;
    for (let i = from + 9; i < from + 12; i++) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) return "HPE_INVALID_STATUS";
      status = status * 10 + d;
    }
    if (status < 100 || (b[from + 12] !== 32 && b[from + 12] !== CR)) return "HPE_INVALID_STATUS";
    // Lines are scanned in JS: on ~100-byte heads that is cheaper than a native indexOf per line.
    let lineEnd = from + 12;
    while (b[lineEnd] !== LF) lineEnd++;
    if (b[lineEnd - 1] !== CR) return "HPE_STRICT";

    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    let close = http10;
    let backend: string | undefined;
    let ls = lineEnd + 1;
    while (ls < end - 2) {
      // The name: token characters up to the colon. The block ends in CR LF CR LF, and CR is not a
      // token character, so the scan stops inside it.
      let colon = ls;
      let c = b[colon]!;
      // Obsolete line folding (a line starting with whitespace) is rejected, as RFC 9112 allows.
      while (c !== 58) {
        if (c <= 32 || c >= 127 || c === 34 || c === 40 || c === 41 || c === 44 || c === 47) {
          return "HPE_INVALID_HEADER_TOKEN";
        }
        c = b[++colon]!;
      }
      if (colon === ls) return "HPE_INVALID_HEADER_TOKEN";
      // The value: up to CR LF; a bare CR or LF inside it is malformed.
      lineEnd = colon + 1;
      c = b[lineEnd]!;
      while (c !== CR) {
        if (c === LF) return "HPE_STRICT";
        c = b[++lineEnd]!;
      }
      if (b[++lineEnd] !== LF) return "HPE_STRICT";
      let vs = colon + 1;
      let ve = lineEnd - 1;
      while (vs < ve && (b[vs] === 32 || b[vs] === 9)) vs++;
      while (ve > vs && (b[ve - 1] === 32 || b[ve - 1] === 9)) ve--;
      const nameLength = colon - ls;
      if (nameLength === CONTENT_LENGTH.length && equalsLower(b, ls, CONTENT_LENGTH)) {
        const n = parseLength(b, vs, ve);
        if (n < 0 || (contentLength >= 0 && n !== contentLength)) return "HPE_INVALID_CONTENT_LENGTH";
        contentLength = n;
      } else if (nameLength === TRANSFER_ENCODING.length && equalsLower(b, ls, TRANSFER_ENCODING)) {
        transferEncoding = true;
        chunked = /(?:^|,)[ \t]*chunked[ \t]*$/i.test(b.toString("latin1", vs, ve));
      } else if (nameLength === CONNECTION.length && equalsLower(b, ls, CONNECTION)) {
        const tokens = b.toString("latin1", vs, ve).toLowerCase();
        if (/(?:^|[ ,])close(?:$|[ ,])/.test(tokens)) close = true;
        else if (http10 && /(?:^|[ ,])keep-alive(?:$|[ ,])/.test(tokens)) close = false;
      } else if (
        backend === undefined &&
        nameLength === this.backendName.length &&
        equalsLower(b, ls, this.backendName)
      ) {
        backend = this.backendValue(b, vs, ve);
      }
      ls = lineEnd + 1;
    }

    if (status < 200) {
      // 101 would switch protocols: not something a load test of an HTTP service expects.
      if (status === 101) return "HPE_UNEXPECTED_UPGRADE";
      // An interim response (100 Continue, 103 Early Hints): the final one follows.
      return "";
    }
    this.status = status;
    this.backend = backend;
    this.keepAlive = !close;
    if (this.noBody || status === 204 || status === 304) {
      this.state = DONE;
    } else if (transferEncoding) {
      // A response whose final coding is not chunked is delimited by the connection closing.
      if (chunked) this.state = CHUNK_SIZE;
      else {
        this.state = UNTIL_CLOSE;
        this.keepAlive = false;
      }
    } else if (contentLength >= 0) {
      this.remaining = contentLength;
      this.state = contentLength === 0 ? DONE : BODY_LENGTH;
    } else {
      this.state = UNTIL_CLOSE;
      this.keepAlive = false;
    }
    return "";
  }

  /** The backend header's value; the string of the previous response when the bytes are the same (the usual case). */
  private backendValue(b: Buffer, from: number, to: number): string {
    const last = this.lastBackendBytes;
    if (last.length === to - from) {
      let same = true;
      for (let i = 0; i < last.length; i++) {
        if (last[i] !== b[from + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastBackend;
    }
    this.lastBackendBytes = Buffer.from(b.subarray(from, to));
    this.lastBackend = b.toString("latin1", from, to);
    return this.lastBackend;
  }

  /** A chunk-size or trailer line (short, may span reads). Returns the offset after it, -1 (more), -2 (error). */
  private readLine(buf: Buffer, pos: number, end: number): number {
    const lf = buf.indexOf(LF, pos);
    const stop = lf < 0 || lf >= end ? end : lf + 1;
    this.line += buf.toString("latin1", pos, stop);
    this.bytes += stop - pos;
    if (this.line.length > MAX_LINE_BYTES) return this.failed("HPE_HEADER_OVERFLOW");
    if (stop === end && (lf < 0 || lf >= end)) return -1;
    const line = this.line;
    this.line = "";
    if (line.length < 2 || line.charCodeAt(line.length - 2) !== CR) return this.failed("HPE_STRICT");
    const text = line.slice(0, -2);
    if (this.state === TRAILERS) {
      if (text === "") this.state = DONE;
      else if (text.indexOf(":") <= 0) return this.failed("HPE_INVALID_HEADER_TOKEN");
      return stop;
    }
    const semicolon = text.indexOf(";");
    const digits = (semicolon < 0 ? text : text.slice(0, semicolon)).trimEnd();
    if (!/^[0-9a-fA-F]{1,12}$/.test(digits)) return this.failed("HPE_INVALID_CHUNK_SIZE");
    const size = Number.parseInt(digits, 16);
    if (size === 0) this.state = TRAILERS;
    else {
      this.remaining = size;
      this.state = CHUNK_DATA;
    }
    return stop;
  }
}

/** Offset just past the CR LF CR LF ending the head in b[from, to), or -1 (scanned in JS: heads are short). */
function headEnd(b: Buffer, from: number, to: number): number {
  for (let i = from + 3; i < to; i++) {
    if (b[i] === LF && b[i - 2] === LF && b[i - 1] === CR && b[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** Whether b[at, at+lower.length) equals `lower` ignoring ASCII case. */
function equalsLower(b: Buffer, at: number, lower: Buffer): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = b[at + i]!;
    const l = lower[i]!;
    if (c !== l && (c | 0x20) !== l) return false;
  }
  return true;
}

/** Decimal Content-Length; -1 when it is not one (empty, signs, spaces inside, over 2^53). */
function parseLength(b: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
