#!/usr/bin/env python3
"""email_check.py - check what Postfix's smtp-sink dumped (smtp-sink -d) for
the email integration test (t_email.sh), with Python's own e-mail parser.

  email_check.py multipart DUMPFILE KEY=VALUE...
      One message: decoded Subject, To display name, Message-ID,
      X-Herald-Reference, a multipart/alternative with a text/plain and a
      text/html part (decoded bodies contain the given strings), no header
      outside the expected set (header injection), 7-bit clean, lines <= 998.
  email_check.py count DIR
      Print the number of dumped messages and of distinct Message-IDs.

Prints "ok - ..." / "not ok - ..." lines (TAP, like lib.sh), exit 1 on failure.
"""
import email
import email.policy
import os
import sys

# Headers smtp-sink adds in front of the message (see smtp-sink(1)).
SINK = {"x-client-addr", "x-client-proto", "x-helo-args", "x-mail-args", "x-rcpt-args",
        "received"}
OURS = {"date", "from", "to", "reply-to", "subject", "message-id", "mime-version",
        "auto-submitted", "x-herald-reference", "list-unsubscribe", "content-type",
        "content-transfer-encoding"}

failed = 0


def check(desc, cond, detail=""):
    global failed
    if cond:
        print("ok - " + desc)
    else:
        failed += 1
        print("not ok - " + desc)
        if detail:
            for line in str(detail).splitlines():
                print("#   " + line)


def multipart(path, expect):
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    names = [k.lower() for k in msg.keys()]
    check("only expected headers (no injected header)",
          all(n in SINK or n in OURS for n in names), "headers: %r" % names)
    for h in ("bcc", "cc", "x-evil"):
        check("no %s header" % h, h not in names)
    for h in ("subject", "to", "from", "message-id", "date", "mime-version"):
        check("exactly one %s header" % h, names.count(h) == 1, "count %d" % names.count(h))
    check("7-bit clean", all(b < 0x80 for b in raw))
    check("no line longer than 998", all(len(l) <= 998 for l in raw.split(b"\n")))
    check("decoded subject", str(msg["subject"]) == expect["subject"],
          "got %r" % str(msg["subject"]))
    to = msg["to"].addresses[0]
    check("To display name", to.display_name == expect["to_name"], "got %r" % to.display_name)
    check("To address", to.addr_spec == expect["to"], "got %r" % to.addr_spec)
    check("Message-ID", str(msg["message-id"]) == expect["message_id"],
          "got %r" % str(msg["message-id"]))
    if "reference" in expect:
        check("X-Herald-Reference", str(msg["x-herald-reference"]) == expect["reference"],
              "got %r" % str(msg["x-herald-reference"]))
    check("multipart/alternative", msg.get_content_type() == "multipart/alternative",
          msg.get_content_type())
    parts = list(msg.iter_parts()) if msg.is_multipart() else []
    check("two parts: text/plain then text/html",
          [p.get_content_type() for p in parts] == ["text/plain", "text/html"],
          [p.get_content_type() for p in parts])
    if len(parts) == 2:
        text, html = parts[0].get_content(), parts[1].get_content()
        check("text part decodes (UTF-8, quoted-printable)", expect["text"] in text,
              "text part: %r" % text)
        check("html part decodes", expect["html"] in html, "html part: %r" % html)
        check("parts say charset=UTF-8",
              all(p.get_content_charset() == "utf-8" for p in parts))


def count(d):
    ids = set()
    n = 0
    for f in sorted(os.listdir(d)):
        msg = email.message_from_bytes(open(os.path.join(d, f), "rb").read(),
                                       policy=email.policy.default)
        n += 1
        ids.add(str(msg["message-id"]))
    print("%d %d" % (n, len(ids)))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "multipart":
        multipart(sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:]))
    elif len(sys.argv) == 3 and sys.argv[1] == "count":
        count(sys.argv[2])
    else:
        sys.exit(__doc__)
    sys.exit(1 if failed else 0)
