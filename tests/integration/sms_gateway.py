#!/usr/bin/env python3
"""sms_gateway.py - a small SMS gateway for the sms channel's integration
tests: Twilio-style (form POST, basic auth, JSON answer with "sid") and
generic JSON gateways on 127.0.0.1, recording every request as one JSON line.

    sms_gateway.py PORT RECORD_FILE [--callbacks] [--delay SECONDS]

Paths:
  /twilio/...      201 {"sid": "SM<n>", "status": "queued"}
  /json            202 {"id": "m-<n>"}
  /status/<code>   <code> with an error body echoing the 'To' number
  /slow            answers after 5 s (for timeouts)
  /early           like /json, but posts the "delivered" receipt to
                   callback_url and waits for its answer before answering
                   the send (a gateway whose DLR overtakes its HTTP answer)
  /cb/...          records a callback (a receipt sent by heraldd's peer)
With --callbacks an accepted message is followed, 0.2 s later, by the
receipt a real gateway would send to its StatusCallback / callback_url:
"delivered", or "failed" when the text contains FAILME. With --delay the
/twilio and /json answers come that many seconds after the request (which
is recorded when it arrives): a slow gateway.
"""
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
RECORD = sys.argv[2]
CALLBACKS = "--callbacks" in sys.argv[3:]
DELAY = float(sys.argv[sys.argv.index("--delay") + 1]) if "--delay" in sys.argv else 0.0
lock = threading.Lock()
counter = [0]


def record(entry):
    with lock:
        with open(RECORD, "a", encoding="utf-8") as fp:
            fp.write(json.dumps(entry, ensure_ascii=False) + "\n")


def twilio_signature(token, url, data):
    """X-Twilio-Signature: base64 HMAC-SHA1 (token) of the URL and the POST
    parameters sorted by name, name and value with no separators."""
    params = sorted(urllib.parse.parse_qsl(data.decode("utf-8")))
    msg = url + "".join(k + v for k, v in params)
    mac = hmac.new(token.encode(), msg.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def send_later(url, data, ctype, token=None):
    def run():
        time.sleep(0.2)
        headers = {"Content-Type": ctype}
        if token is not None:  # a Twilio account signs its callbacks
            headers["X-Twilio-Signature"] = twilio_signature(token, url, data)
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                record({"callback_to": url, "callback_status": r.status})
        except Exception as e:  # noqa: BLE001 - recorded for the test
            record({"callback_to": url, "callback_error": str(e)})
    threading.Thread(target=run, daemon=True).start()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, obj):
        body = (json.dumps(obj) if not isinstance(obj, str) else obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        auth = self.headers.get("Authorization") or ""
        user = None
        if auth.startswith("Basic "):
            try:
                user = base64.b64decode(auth[6:]).decode()
            except Exception:  # noqa: BLE001
                user = "<undecodable>"
        ctype = self.headers.get("Content-Type") or ""
        entry = {"method": self.command, "path": url.path,
                 "query": dict(urllib.parse.parse_qsl(url.query)),
                 "content_type": ctype, "auth": auth, "basic": user,
                 "raw": raw.decode("utf-8", "replace")}
        if ctype.startswith("application/x-www-form-urlencoded"):
            entry["form"] = dict(urllib.parse.parse_qsl(raw.decode("utf-8"),
                                                        keep_blank_values=True))
        elif ctype.startswith("application/json"):
            try:
                entry["json"] = json.loads(raw)
            except ValueError:
                entry["json"] = None
        record(entry)
        with lock:
            counter[0] += 1
            num = counter[0]
        p = url.path
        if p.startswith("/cb"):
            return self.answer(200, "ok")
        if p.startswith("/status/"):
            code = int(p.split("/")[2])
            to = (entry.get("form") or {}).get("To") or \
                (entry.get("json") or {}).get("to") or "?"
            return self.answer(code, {"code": 21211, "message":
                                      "The 'To' number %s is not valid" % to})
        if p == "/slow":
            time.sleep(5)
            return self.answer(200, {"id": "late"})
        if DELAY and (p.startswith("/twilio") or p.startswith("/json")):
            time.sleep(DELAY)
        if p.startswith("/twilio"):
            form = entry.get("form") or {}
            if CALLBACKS and form.get("StatusCallback"):
                token = (user or ":").split(":", 1)[1]
                st = "failed" if "FAILME" in form.get("Body", "") else "delivered"
                data = urllib.parse.urlencode({"MessageSid": "SM%d" % num,
                                               "MessageStatus": "sent"}).encode()
                send_later(form["StatusCallback"], data,
                           "application/x-www-form-urlencoded", token)
                extra = {"MessageSid": "SM%d" % num, "MessageStatus": st}
                if st == "failed":
                    extra["ErrorCode"] = "30003"
                send_later(form["StatusCallback"],
                           urllib.parse.urlencode(extra).encode(),
                           "application/x-www-form-urlencoded", token)
            return self.answer(201, {"sid": "SM%d" % num, "status": "queued"})
        if p.startswith("/early"):
            js = entry.get("json") or {}
            data = json.dumps({"reference": js.get("reference"),
                               "status": "delivered",
                               "reason": "handset said delivered"}).encode()
            req = urllib.request.Request(js.get("callback_url") or "", data=data,
                                         method="POST", headers={
                                             "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    record({"callback_to": req.full_url,
                            "callback_status": r.status})
            except Exception as e:  # noqa: BLE001 - recorded for the test
                record({"callback_to": req.full_url, "callback_error": str(e)})
            time.sleep(0.3)
            return self.answer(202, {"id": "m-%d" % num})
        if p.startswith("/json"):
            js = entry.get("json") or {}
            if CALLBACKS and js.get("callback_url"):
                st = "failed" if "FAILME" in js.get("text", "") else "delivered"
                send_later(js["callback_url"], json.dumps(
                    {"reference": js.get("reference"), "status": st,
                     "reason": "handset said %s" % st}).encode(), "application/json")
            return self.answer(202, {"id": "m-%d" % num})
        return self.answer(404, {"message": "no such path"})

    do_GET = handle_any
    do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    srv = Server(("127.0.0.1", PORT), Handler)
    print("sms_gateway: listening on 127.0.0.1:%d" % PORT, flush=True)
    srv.serve_forever()
