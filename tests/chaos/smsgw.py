#!/usr/bin/env python3
"""smsgw.py - a JSON-profile SMS gateway for the chaos suite (the sms
channel's `profile = json`): slow, failing at set rates, and able to post
the delivery receipt before it answers the send.

    smsgw.py PORT RECORD_FILE [--delay S] [--perm RATE] [--temp RATE]
             [--noreceipt RATE] [--receipt-first] [--receipt-delay S]
             [--seed N]

POST /json {"to","text","reference","callback_url"}: after --delay seconds,
400 (permanent), 503 (temporary) or 202 {"id": "m-<n>"} (taken). A taken
message gets its receipt {"reference","status":"delivered"} POSTed to its
callback_url --receipt-delay seconds later (default 0.2), unless it falls
in --noreceipt; with --receipt-first the receipt is posted, and answered,
before the 202 goes out (a gateway faster than its own HTTP answer).
One JSON line per request: {"ref", "code", "ms"}; one per receipt:
{"receipt": ref, "answer": HTTP status or error}.
"""
import json
import random
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
RECORD = sys.argv[2]
args = sys.argv[3:]


def opt(name, default):
    return float(args[args.index(name) + 1]) if name in args else default


DELAY = opt("--delay", 0.0)
PERM = opt("--perm", 0.0)
TEMP = opt("--temp", 0.0)
NORECEIPT = opt("--noreceipt", 0.0)
RECEIPT_DELAY = opt("--receipt-delay", 0.2)
RECEIPT_FIRST = "--receipt-first" in args
rng = random.Random(int(opt("--seed", 1)))
lock = threading.Lock()
out = open(RECORD, "a", encoding="utf-8", buffering=1)
counter = [0]


def record(entry):
    with lock:
        out.write(json.dumps(entry) + "\n")


def post_receipt(url, ref):
    body = json.dumps({"reference": ref, "status": "delivered",
                       "reason": "handset acknowledged"}).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            record({"receipt": ref, "answer": r.status})
    except Exception as e:  # noqa: BLE001 - recorded
        record({"receipt": ref, "answer": str(e)[:80]})


def post_later(url, ref):
    def run():
        time.sleep(RECEIPT_DELAY)
        post_receipt(url, ref)
    threading.Thread(target=run, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200, {"ok": True})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            js = json.loads(raw)
        except ValueError:
            js = {}
        ref = js.get("reference") or "?"
        if DELAY:
            time.sleep(DELAY)
        with lock:
            r = rng.random()
            no_receipt = rng.random() < NORECEIPT
            counter[0] += 1
            num = counter[0]
        code = 400 if r < PERM else 503 if r < PERM + TEMP else 202
        record({"ref": ref, "code": code, "ms": int(time.time() * 1000)})
        if code == 400:
            return self.answer(400, {"error": "number barred (chaos)"})
        if code == 503:
            return self.answer(503, {"error": "try again (chaos)"})
        url = js.get("callback_url")
        if url and not no_receipt:
            if RECEIPT_FIRST:
                post_receipt(url, ref)
            else:
                post_later(url, ref)
        return self.answer(202, {"id": "m-%d" % num})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


if __name__ == "__main__":
    srv = Server(("127.0.0.1", PORT), Handler)
    print("smsgw: listening on 127.0.0.1:%d" % PORT, flush=True)
    srv.serve_forever()
