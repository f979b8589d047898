#!/usr/bin/env python3
"""redisproxy.py - a TCP proxy between heraldd and redis-server that cuts or
slows the link on command: the stream tests (t_leases.sh) and the chaos suite
(tests/chaos/chaos.py) use it. SIGUSR1 cuts every open connection at once.

    redisproxy.py LISTEN_PORT UPSTREAM_PORT [--cut-on BYTES | --drop-on BYTES]
                  [--delay-on BYTES --delay-ms N [--delay-count N]]

Relays every connection on 127.0.0.1:LISTEN_PORT to 127.0.0.1:UPSTREAM_PORT.
  --cut-on BYTES   after SIGUSR2 (arms one cut), the next client->server
                   chunk containing BYTES is forwarded, then every connection
                   is aborted before Redis's reply can come back
  --drop-on BYTES  after SIGUSR2, the next client->server chunk containing
                   BYTES is NOT forwarded: every connection is aborted
                   instead (the command lost on the way, Redis never ran it)
  --delay-on BYTES a client->server chunk containing BYTES is held N ms
                   before it is forwarded (the connection's later data waits
                   behind it, as on a slow link)
  --delay-count N  only the first N such chunks are held (default: every one)
Each cut or delay is written to stdout, flushed.
"""
import asyncio
import signal
import sys


def opt(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


LISTEN, UPSTREAM = int(sys.argv[1]), int(sys.argv[2])
CUT_ON = (opt("--cut-on") or "").encode()
DROP_ON = (opt("--drop-on") or "").encode()
DELAY_ON = (opt("--delay-on") or "").encode()
DELAY_S = int(opt("--delay-ms", "0")) / 1000.0
DELAY_COUNT = int(opt("--delay-count", "0"))
conns = set()
state = {"armed": 0, "cuts": 0, "delays": 0}


def cut_all(reason):
    state["cuts"] += 1
    print("cut %d %s (%d connections)" % (state["cuts"], reason, len(conns)), flush=True)
    for pair in list(conns):
        for w in pair:
            w.transport.abort()
    conns.clear()


async def pump(reader, writer, pair, to_server):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if (to_server and DELAY_ON and DELAY_ON in data
                    and (not DELAY_COUNT or state["delays"] < DELAY_COUNT)):
                state["delays"] += 1
                print("delay %d" % state["delays"], flush=True)
                await asyncio.sleep(DELAY_S)
            if to_server and state["armed"] and DROP_ON and DROP_ON in data:
                state["armed"] -= 1
                cut_all("dropping a command")
                return
            writer.write(data)
            await writer.drain()
            if to_server and state["armed"] and CUT_ON and CUT_ON in data:
                state["armed"] -= 1
                cut_all("on pattern")
                return
    except Exception:  # noqa: BLE001 - a cut or a reset ends the pump
        pass
    finally:
        writer.transport.abort()
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
