#!/usr/bin/env python3
"""callback_check.py - questions about what callback_receiver.py recorded.
Each prints one short answer for expect_eq in t_callback.sh.

  count OUT [STATUS]        requests recorded (with that answer status)
  order OUT INPUT           "in order" if the bodies answered 200 are the
                            lines of INPUT, each once, in order
  verify OUT SECRET         "N verified": X-Herald-Signature matches
                            HMAC-SHA256(SECRET, body) (hmac.compare_digest)
  headers OUT               "ok" if every request is a POST with
                            Content-Type application/json and X-Herald-Event
                            equal to the body's event_id
  gaps OUT [N]              "growing" if the gaps between the (first N)
                            requests grow and the first is at least 0.7 s,
                            else the gaps
  span OUT                  seconds from the first request to the last
  statuses OUT              "event_id status" of each body answered 200, a
                            line each, in arrival order
"""
import base64
import hashlib
import hmac
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        recs = [json.loads(line) for line in f if line.strip()]
    for r in recs:
        r["body"] = base64.b64decode(r["body_b64"])
    return recs


def main():
    cmd, recs = sys.argv[1], load(sys.argv[2])
    if cmd == "count":
        want = int(sys.argv[3]) if len(sys.argv) > 3 else None
        print(sum(1 for r in recs if want is None or r["status"] == want))
    elif cmd == "order":
        with open(sys.argv[3], "rb") as f:
            lines = [line.rstrip(b"\n") for line in f if line.strip()]
        got = [r["body"] for r in recs if r["status"] == 200]
        if got == lines:
            print("in order")
        else:
            bad = next((i for i, (g, w) in enumerate(zip(got, lines)) if g != w),
                       min(len(got), len(lines)))
            print("got %d of %d, first difference at %d" % (len(got), len(lines), bad))
    elif cmd == "verify":
        key = sys.argv[3].encode()
        n = 0
        for r in recs:
            sig = r["headers"].get("x-herald-signature", "")
            want = "sha256=" + hmac.new(key, r["body"], hashlib.sha256).hexdigest()
            if hmac.compare_digest(sig.encode(), want.encode()):
                n += 1
        print("%d verified" % n)
    elif cmd == "headers":
        for r in recs:
            h = r["headers"]
            eid = json.loads(r["body"]).get("event_id")
            if (r["method"] != "POST" or h.get("content-type") != "application/json"
                    or h.get("x-herald-event") != eid):
                print("request %d: %s %s %s" % (r["n"], r["method"], h.get("content-type"),
                                                h.get("x-herald-event")))
                return
        print("ok")
    elif cmd == "gaps":
        if len(sys.argv) > 3:
            recs = recs[:int(sys.argv[3])]
        gaps = [b["t"] - a["t"] for a, b in zip(recs, recs[1:])]
        growing = len(gaps) > 1 and gaps[0] >= 0.7 and all(
            y > x for x, y in zip(gaps, gaps[1:]))
        print("growing" if growing else " ".join("%.2f" % g for g in gaps))
    elif cmd == "statuses":
        for r in recs:
            if r["status"] == 200:
                b = json.loads(r["body"])
                print(b["event_id"], b["status"])
    elif cmd == "span":
        print("%.2f" % (recs[-1]["t"] - recs[0]["t"] if recs else 0))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
