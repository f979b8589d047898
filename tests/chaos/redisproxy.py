#!/usr/bin/env python3
"""redisproxy.py - a TCP proxy between heraldd and redis-server that cuts
the link on command, for the chaos suite.

    redisproxy.py LISTEN_PORT UPSTREAM_PORT [--pattern BYTES]

Listens on 127.0.0.1:LISTEN_PORT and relays every connection to
127.0.0.1:UPSTREAM_PORT. Signals:
  SIGUSR1  cut every open connection now (both sides, no FIN handshake:
           the sockets are aborted, so heraldd sees a reset)
  SIGUSR2  arm one cut: the next client->server chunk that contains
           --pattern (e.g. "herald:citizen:") is forwarded, then every
           connection is cut before Redis's reply can come back
Each cut is written to stdout as "cut <n> <reason>", flushed.
"""
import asyncio
import signal
import sys

LISTEN = int(sys.argv[1])
UPSTREAM = int(sys.argv[2])
PATTERN = b""
if "--pattern" in sys.argv:
    PATTERN = sys.argv[sys.argv.index("--pattern") + 1].encode()

conns = set()  # (client_writer, server_writer)
state = {"armed": 0, "cuts": 0}


def cut_all(reason):
    state["cuts"] += 1
    print("cut %d %s (%d connections)" % (state["cuts"], reason, len(conns)), flush=True)
    for cw, sw in list(conns):
        for w in (cw, sw):
            try:
                w.transport.abort()
            except Exception:  # noqa: BLE001 - already gone
                pass
    conns.clear()


async def pump(reader, writer, pair, upstream_bound):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            if upstream_bound and state["armed"] and PATTERN and PATTERN in data:
                state["armed"] -= 1
                try:
                    await writer.drain()
                except Exception:  # noqa: BLE001
                    pass
                cut_all("on pattern")
                return
            await writer.drain()
    except Exception:  # noqa: BLE001 - a cut or a reset ends the pump
        pass
    finally:
        try:
            writer.transport.abort()
        except Exception:  # noqa: BLE001
            pass
        conns.discard(pair)


async def handle(creader, cwriter):
    try:
        sreader, swriter = await asyncio.open_connection("127.0.0.1", UPSTREAM)
    except OSError:
        cwriter.transport.abort()
        return
    pair = (cwriter, swriter)
    conns.add(pair)
    await asyncio.gather(pump(creader, swriter, pair, True), pump(sreader, cwriter, pair, False))


async def main():
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, cut_all, "on signal")
    loop.add_signal_handler(signal.SIGUSR2, lambda: state.__setitem__("armed", state["armed"] + 1))
    srv = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    print("redisproxy: 127.0.0.1:%d -> %d" % (LISTEN, UPSTREAM), flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
