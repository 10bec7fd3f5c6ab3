#!/usr/bin/env python3
"""labgate demo app: a sentiment-analysis HTTP API, python3 standard library only.

  POST /predict {"text": "..."} -> {"label": "positive|negative|neutral", "score": ..., ...}
  GET  /health                  -> {"status": "ok", ...}
  GET  /                        -> service info (HEAD works on every GET route)

Every response carries `X-Served-By: <instance name>` so a load balancer's split is visible.
Usage: app.py --name app1 [--host 127.0.0.1] [--port 8000] [--lexicon lexicon.txt]
The name also comes from $LABGATE_INSTANCE, then the host name.
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sentiment_model import SentimentModel, load_lexicon  # noqa: E402

VERSION = "1.0.0"
MAX_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 10_000


def make_handler(name, model, started):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes; with Nagle on, the body waits for the client's delayed
        # ACK (40 ms on Linux) and every keep-alive answer would measure TCP, not the model.
        disable_nagle_algorithm = True
        server_version = "labgate-sentiment/" + VERSION

        def version_string(self):
            return self.server_version

        def send_response(self, code, message=None):
            super().send_response(code, message)
            # Every answer names its instance, errors raised by http.server itself included.
            self.send_header("X-Served-By", name)

        def send_error(self, code, message=None, explain=None):
            # http.server's own errors (header too long, unknown method ...) are JSON like ours.
            self.close_connection = True
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "error"
            self._json(code, {"error": phrase.lower().replace(" ", "_").replace("-", "_"),
                              "message": message or phrase})

        def do_HEAD(self):
            # Same routes and headers as GET; _json leaves the body out.
            self.do_GET()

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self._json(200, {"status": "ok", "instance": name,
                                 "uptimeSeconds": round(time.monotonic() - started, 3)})
            elif path == "/":
                self._json(200, {
                    "service": "labgate-sentiment",
                    "version": VERSION,
                    "instance": name,
                    "model": {"kind": "lexicon (VADER-like)", "words": len(model.lexicon)},
                    "endpoints": {"POST /predict": '{"text": "..."}', "GET /health": "liveness", "GET /": "this"},
                })
            elif path == "/predict":
                self._json(405, {"error": "method_not_allowed", "message": "use POST /predict"},
                           {"Allow": "POST"})
            else:
                self._json(404, {"error": "not_found", "message": "no route for GET " + path})

        def do_POST(self):
            path = self.path.split("?", 1)[0]
            if path != "/predict":
                self._drain()
                self._json(404, {"error": "not_found", "message": "no route for POST " + path})
                return
            try:
                length = int(self.headers.get("Content-Length") or "0")
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._json(400, {"error": "bad_request", "message": "invalid Content-Length"})
                return
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                self._json(413, {"error": "too_large", "message": "body exceeds %d bytes" % MAX_BODY_BYTES})
                return
            body = self.rfile.read(length)
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                self._json(400, {"error": "bad_json", "message": "body is not valid JSON: %s" % error})
                return
            text = payload.get("text") if isinstance(payload, dict) else None
            if not isinstance(text, str):
                self._json(400, {"error": "bad_request",
                                 "message": 'expected a JSON object with a string field "text"'})
                return
            if len(text) > MAX_TEXT_CHARS:
                self._json(413, {"error": "too_large", "message": "text exceeds %d characters" % MAX_TEXT_CHARS})
                return
            result = model.analyse(text)
            result["instance"] = name
            self._json(200, result)

        def do_PUT(self):
            self._method_not_allowed()

        def do_DELETE(self):
            self._method_not_allowed()

        def do_PATCH(self):
            self._method_not_allowed()

        def do_OPTIONS(self):
            self._method_not_allowed()

        def _method_not_allowed(self):
            self._drain()
            self._json(405, {"error": "method_not_allowed", "message": "use GET, HEAD or POST"},
                       {"Allow": "GET, HEAD, POST"})

        def _drain(self):
            try:
                length = int(self.headers.get("Content-Length") or "0")
            except ValueError:
                length = 0
            if 0 < length <= MAX_BODY_BYTES:
                self.rfile.read(length)
            elif length:
                self.close_connection = True

        def _json(self, status, obj, extra_headers=None):
            data = (json.dumps(obj) + "\n").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (extra_headers or {}).items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s %s\n" % (self.log_date_time_string(), name, fmt % args))

    return Handler


def parse_args(argv):
    parser = argparse.ArgumentParser(description="labgate sentiment-analysis demo app")
    parser.add_argument("--host", default=os.environ.get("LABGATE_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LABGATE_PORT", "8000")))
    parser.add_argument("--name", default=os.environ.get("LABGATE_INSTANCE") or socket.gethostname())
    parser.add_argument("--lexicon", default=None, help="lexicon file (default: lexicon.txt beside app.py)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    model = SentimentModel(load_lexicon(args.lexicon))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.name, model, time.monotonic()))
    server.daemon_threads = True

    def stop(signum, _frame):
        sys.stderr.write("%s: signal %d, shutting down\n" % (args.name, signum))
        # shutdown() blocks until serve_forever returns, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    sys.stderr.write("%s: labgate-sentiment %s listening on %s:%d (%d lexicon words)\n"
                     % (args.name, VERSION, host, port, len(model.lexicon)))
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.stderr.write("%s: stopped\n" % args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
