#!/usr/bin/env python3
"""callback_receiver.py - a publishing service's status-callback endpoint,
for tests: records every request and answers 200, or a failure status for
the first N requests, or never answers.

  callback_receiver.py --port P --out FILE [--fail-first N] [--status 503]
                       [--hang] [--delay S] [--ready FILE]

Each request is one JSON line in FILE: {"n", "t" (time.time()), "method",
"path", "headers" (lower-case names), "body_b64" (the exact bytes), "status"
(what was answered, 0 with --hang), "inflight" (requests being answered
at that moment, this one included)}. --delay S waits S seconds before
answering (to see how many requests a sender keeps in flight). --ready FILE is created once listening.
Binds 127.0.0.1 only; stop it by PID.
"""
import argparse
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--status", type=int, default=503)
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--ready")
    a = ap.parse_args()
    lock = threading.Lock()
    seen = [0]
    busy = [0]
    out = open(a.out, "a", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real service
        # headers and body are two writes: without this each answer waits
        # for the client's delayed ACK (40 ms)
        disable_nagle_algorithm = True

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                seen[0] += 1
                busy[0] += 1
                n = seen[0]
                code = 0 if a.hang else (a.status if n <= a.fail_first else 200)
                rec = {"n": n, "t": time.time(), "method": self.command,
                       "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body_b64": base64.b64encode(body).decode(), "status": code,
                       "inflight": busy[0]}
                out.write(json.dumps(rec) + "\n")
                out.flush()
            if a.hang:
                time.sleep(3600)
                return
            if a.delay:
                time.sleep(a.delay)
            reply = b'{"ok":true}' if code == 200 else b'{"error":"busy"}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            with lock:
                busy[0] -= 1

        def log_message(self, fmt, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    if a.ready:
        open(a.ready, "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
