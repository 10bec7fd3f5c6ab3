import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";

export interface MultipartFilePart {
  /** Form field name ("metadata", "rootfs"). */
  name: string;
  /** Local file streamed as the part's body. */
  path: string;
  filename: string;
}

/**
 * A multipart/form-data body streamed from files (image tarballs can be hundreds of MB, so they
 * are never buffered). LXD expects the parts in order: `metadata`, then `rootfs`.
 */
export function multipartBody(parts: readonly MultipartFilePart[]): {
  stream: Readable;
  contentType: string;
} {
  const boundary = `labgate-${randomBytes(12).toString("hex")}`;
  async function* generate(): AsyncGenerator<Buffer> {
    for (const part of parts) {
      yield Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n",
      );
      for await (const chunk of createReadStream(part.path)) yield chunk as Buffer;
      yield Buffer.from("\r\n");
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return { stream: Readable.from(generate()), contentType: `multipart/form-data; boundary=${boundary}` };
}
