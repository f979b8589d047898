#!/usr/bin/env python3
"""paper_spoolwatch.py DIR STOPFILE REPORT - watch a print spool folder while
letters are written into it, as a print house would: every visible
<stem>.json must parse and describe a <stem>.pdf that is already complete
(size and sha256 match); every visible <stem>.pdf must be a whole PDF. Dot
files are temporaries and ignored. Writes "checks=N errors=N" plus one line
per error to REPORT when STOPFILE appears."""
import hashlib
import json
import os
import sys
import time

d, stop, report = sys.argv[1:4]
checks = 0
errors = []


def check_pdf(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-64:]:
        errors.append("incomplete pdf %s (%d bytes)" % (path, len(data)))
    return data


while True:
    done = os.path.exists(stop)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        names = []
    for n in names:
        if n.startswith("."):
            continue
        p = os.path.join(d, n)
        try:
            if n.endswith(".json"):
                with open(p, "rb") as f:
                    raw = f.read()
                m = json.loads(raw)
                if not raw.endswith(b"\n") or raw.count(b"\n") != 1:
                    errors.append("manifest %s is not one line" % n)
                pdf = check_pdf(os.path.join(d, m["file"]))
                if len(pdf) != m["bytes"] or hashlib.sha256(pdf).hexdigest() != m["sha256"]:
                    errors.append("manifest %s does not match its pdf" % n)
                checks += 1
            elif n.endswith(".pdf"):
                check_pdf(p)
                checks += 1
        except FileNotFoundError:
            pass  # replaced between listdir and open: fine
        except (ValueError, KeyError) as e:
            errors.append("bad manifest %s: %s" % (n, e))
    if done:
        break
    time.sleep(0.001)

with open(report, "w") as f:
    f.write("checks=%d errors=%d\n" % (checks, len(errors)))
    for e in errors[:20]:
        f.write(e + "\n")
