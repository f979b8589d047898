#!/usr/bin/env python3
"""paper_faxgw.py PORT DIR [options] - a small HTTP fax gateway for the fax
channel's tests, on 127.0.0.1 only.

POST /send takes multipart/form-data: the number field (--number-field, "to"),
the file field (--file-field, "file"), "ref" and "callback_url". It checks the
file is a PDF (application/pdf, starts with %PDF-, ends with %%EOF) and the
number is E.164, saves the PDF as DIR/<n>.pdf and appends one JSON line per
request to DIR/requests.jsonl (number, ref, callback_url, filename,
content_type, pdf, bytes, auth, answer). It answers 202 {"id": ...} unless:
  --answer NUMBER=CODE     answer CODE for that number (e.g. 400, 503, 429)
  --delay NUMBER=SECONDS   wait before answering (timeouts, concurrency)
  --auth USER:PASSWORD     require HTTP basic auth (401 otherwise)
  --callback NUMBER=STATUS[:REASON]  after accepting, POST the final status to
                           callback_url (JSON, or form with --form-callbacks)
The peak number of requests for one number served at once is kept in
DIR/peak-<number without +>.
Prints "listening" when ready."""
import base64
import json
import os
import re
import sys
import threading
import time
import urllib.request
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, outdir = int(sys.argv[1]), sys.argv[2]
opts = {"answer": {}, "delay": {}, "callback": {}, "auth": None, "form": False,
        "number_field": "to", "file_field": "file"}
args = sys.argv[3:]
while args:
    a = args.pop(0)
    if a in ("--answer", "--delay", "--callback"):
        k, v = args.pop(0).split("=", 1)
        opts[a[2:]][k] = v
    elif a == "--auth":
        opts["auth"] = args.pop(0)
    elif a == "--form-callbacks":
        opts["form"] = True
    elif a == "--number-field":
        opts["number_field"] = args.pop(0)
    elif a == "--file-field":
        opts["file_field"] = args.pop(0)
    else:
        sys.exit("unknown option " + a)

lock = threading.Lock()
state = {"n": 0, "active": {}, "peak": {}}


def record(entry):
    with lock:
        with open(os.path.join(outdir, "requests.jsonl"), "a") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def send_callback(url, ref, status):
    st, _, reason = status.partition(":")
    time.sleep(0.2)
    if opts["form"]:
        data = urllib.parse.urlencode({"ref": ref, "status": st, "reason": reason}).encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        data = json.dumps({"ref": ref, "status": st, "reason": reason}).encode()
        ctype = "application/json"
    req = urllib.request.Request(url, data=data, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            code = r.status
    except Exception as e:  # noqa: BLE001 - recorded for the test to see
        code = str(e)
    record({"callback": url, "ref": ref, "status": st, "answer": code})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.number = None
        try:
            self.handle_send()
        finally:
            if self.number:
                with lock:
                    state["active"][self.number] -= 1

    def track(self, number):
        # requests for one number in progress at once (the answer included)
        self.number = number
        with lock:
            act = state["active"].get(number, 0) + 1
            state["active"][number] = act
            if act > state["peak"].get(number, 0):
                state["peak"][number] = act
                with open(os.path.join(outdir, "peak-" + number.lstrip("+")), "w") as f:
                    f.write("%d\n" % act)

    def handle_send(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        auth = self.headers.get("Authorization")
        if opts["auth"]:
            want = "Basic " + base64.b64encode(opts["auth"].encode()).decode()
            if auth != want:
                record({"auth": auth, "answer": 401})
                return self.reply(401, {"error": "authentication required"})
        if self.path != "/send":
            return self.reply(404, {"error": "no such endpoint"})
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            record({"error": "not multipart", "content_type": ctype, "answer": 415})
            return self.reply(415, {"error": "multipart/form-data expected"})
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        fields, files = {}, {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                files[name] = (part.get_filename(), part.get_content_type(),
                               part.get_payload(decode=True))
            else:
                fields[name] = part.get_payload(decode=True).decode("utf-8")
        number = fields.get(opts["number_field"], "")
        if number:
            self.track(number)
        fname, ftype, pdf = files.get(opts["file_field"], (None, None, b""))
        is_pdf = ftype == "application/pdf" and pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]
        with lock:
            state["n"] += 1
            n = state["n"]
        if pdf:
            with open(os.path.join(outdir, "%d.pdf" % n), "wb") as f:
                f.write(pdf)
        entry = {"n": n, "number": number, "ref": fields.get("ref"),
                 "callback_url": fields.get("callback_url"), "filename": fname,
                 "content_type": ftype, "pdf": is_pdf, "bytes": len(pdf), "auth": auth,
                 "fields": sorted(fields)}
        if not re.fullmatch(r"\+[1-9][0-9]{7,14}", number) or not is_pdf:
            entry["answer"] = 400
            record(entry)
            return self.reply(400, {"error": "bad number or not a PDF"})
        delay = float(opts["delay"].get(number, 0))
        if delay:
            time.sleep(delay)
        code = int(opts["answer"].get(number, 202))
        entry["answer"] = code
        record(entry)
        if code >= 300:
            return self.reply(code, {"error": "gateway says %d for %s" % (code, number)})
        self.reply(code, {"id": "gw-%d" % n, "status": "queued"})
        cb = opts["callback"].get(number)
        if cb and fields.get("callback_url"):
            threading.Thread(target=send_callback,
                             args=(fields["callback_url"], fields.get("ref"), cb),
                             daemon=True).start()


import urllib.parse  # noqa: E402

srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
srv.daemon_threads = True
print("listening", flush=True)
srv.serve_forever()
