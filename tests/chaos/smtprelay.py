#!/usr/bin/env python3
"""smtprelay.py - an SMTP relay for the chaos suite that answers late and
fails at set rates, recording every message it took or refused.

    smtprelay.py PORT RECORD_FILE [--delay S] [--perm RATE] [--temp RATE]
                 [--seed N]

Each message's end of DATA is answered after --delay seconds: 250 (taken),
or, at the given rates, 554 5.7.1 (permanent; not a 5.1.x, so the address
is not marked invalid) or 451 4.3.0 (temporary). One JSON line per message:
{"mid": "<Message-ID without <>>", "code": 250|554|451, "ms": epoch ms}.
Sessions are served concurrently (asyncio); commands may be pipelined.
"""
import asyncio
import json
import random
import sys
import time

PORT = int(sys.argv[1])
RECORD = sys.argv[2]
args = sys.argv[3:]


def opt(name, default):
    return float(args[args.index(name) + 1]) if name in args else default


DELAY = opt("--delay", 0.0)
PERM = opt("--perm", 0.0)
TEMP = opt("--temp", 0.0)
rng = random.Random(int(opt("--seed", 1)))
out = open(RECORD, "a", encoding="utf-8", buffering=1)


def message_id(lines):
    for ln in lines:
        if ln[:11].lower() == b"message-id:":
            return ln[11:].strip().strip(b"<>").decode("utf-8", "replace")
        if not ln.strip():
            break  # end of the header
    return "?"


async def session(reader, writer):
    def say(s):
        writer.write(s.encode() + b"\r\n")

    say("220 chaos relay ESMTP")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO"):
                writer.write(b"250-chaos\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n")
            elif cmd.startswith(b"HELO"):
                say("250 chaos")
            elif cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT") or cmd.startswith(b"RSET"):
                say("250 2.0.0 ok")
            elif cmd == b"NOOP":
                say("250 2.0.0 ok")
            elif cmd == b"DATA":
                say("354 go ahead")
                await writer.drain()
                lines = []
                while True:
                    ln = await reader.readline()
                    if not ln or ln in (b".\r\n", b".\n"):
                        break
                    lines.append(ln.rstrip(b"\r\n"))
                if not ln:
                    break
                if DELAY:
                    await asyncio.sleep(DELAY)
                r = rng.random()
                code = 554 if r < PERM else 451 if r < PERM + TEMP else 250
                out.write(json.dumps({"mid": message_id(lines), "code": code,
                                      "ms": int(time.time() * 1000)}) + "\n")
                say({250: "250 2.0.0 queued", 554: "554 5.7.1 rejected by chaos",
                     451: "451 4.3.0 try again later (chaos)"}[code])
            elif cmd == b"QUIT":
                say("221 2.0.0 bye")
                await writer.drain()
                break
            else:
                say("502 5.5.2 unknown command")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main():
    srv = await asyncio.start_server(session, "127.0.0.1", PORT, limit=1 << 20)
    print("smtprelay: listening on 127.0.0.1:%d" % PORT, flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
