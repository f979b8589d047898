#!/usr/bin/env python3
"""chaos.py - Herald's fault-injection suite (issue #12: "nothing lost,
nothing sent twice unmarked"). Run by `make chaos` through tests/chaos/run.sh.

Each scenario starts its own servers on free loopback ports (redis-server,
heraldd, and the providers of tests/chaos/: smtprelay.py, smsgw.py, the file
channel, tests/integration/redisproxy.py between heraldd and Redis where the link
is cut),
publishes a bounded load with tests/chaos/pirate (Lazy Pirate: retried on a
fresh socket, same event_id, until acknowledged), injects its fault
mid-load, waits for the queue to drain, then counts per event id:

  acked       events the publisher got "accepted"/"duplicate" for
  delivered   acked events some provider took at least once
  lost        acked, never taken by any provider, not dead-lettered
  dup_marked  taken more than once by one channel, and some record of it in the delivery
              logs carries the mark (JSON "possible_duplicate": true, text
              "dup=possible")
  dup_unmarked  taken more than once by one channel without that mark
  (a message that reached the citizen on two channels, because it hopped
  after a send that had no receipt in time, is counted apart, as
  multi_channel: that is the hop doing its job, not a resend)
  unsettled   acked events whose herald:msg status is not final after the
              drain (delivered, exhausted, or sent with nothing more to
              wait for): a message Herald forgot about or still holds

"Taken by a provider": a line in the file channel's output, a 250 from the
SMTP relay (by Message-ID), a 202 from the SMS gateway (by reference); the
Message-ID's local part and the SMS reference are Herald's provider
reference (lib/provref.c), mapped back to the event id with herald:secret.

A scenario passes with lost = 0, dup_unmarked = 0, unsettled = 0 and its
own checks (e.g. the SIGTERM exit time). One that needs a feature heraldd
cannot run here (redis-sentinel not installed) is SKIPPED, with the reason.

    chaos.py --build BUILD [--only PATTERN] [--runs N] [--quick]
             [--events N] [--out FILE] [--tap]

Environment: CHAOS_EVENTS, CHAOS_ONLY, CHAOS_RUNS, CHAOS_QUICK=1,
CHAOS_SEED, KEEP=1 (keep every scenario's folder; failed ones are kept).
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(SRC, "tests", "chaos")
PY = sys.executable or "python3"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(seconds, fn, step=0.1):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if fn():
                return True
        except Exception:  # noqa: BLE001 - not yet
            pass
        time.sleep(step)
    return False


# ---- a small Redis client (RESP2), enough for seeding and counting ---------

class RedisError(Exception):
    pass


class Redis:
    def __init__(self, port):
        self.port = port
        self.sock = None
        self.f = None

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = self.f = None

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        self.f = self.sock.makefile("rb")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise OSError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2].decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise OSError("bad RESP reply %r" % line[:40])

    def pipe(self, cmds):
        buf = []
        for c in cmds:
            buf.append(b"*%d\r\n" % len(c))
            for a in c:
                a = a if isinstance(a, bytes) else str(a).encode()
                buf.append(b"$%d\r\n%s\r\n" % (len(a), a))
        data = b"".join(buf)
        for attempt in (0, 1):
            try:
                if not self.sock:
                    self._connect()
                self.sock.sendall(data)
                return [self._read() for _ in cmds]
            except OSError:
                self.close()
                if attempt:
                    raise
        return None

    def call(self, *args):
        r = self.pipe([args])[0]
        if isinstance(r, RedisError):
            raise r
        return r


STATUS_LUA = """
local out = {}
for i = 1, tonumber(ARGV[2]) do
  local h = redis.call('HMGET', 'herald:msg:' .. ARGV[1] .. '-' .. i, 'status', 'final')
  local st = h[1] or 'none'
  if st == 'sent' and h[2] then st = 'sent-final' end
  out[#out + 1] = st
end
return out
"""
FINAL = {"delivered", "exhausted", "sent-final", "rejected"}


# ---- one scenario's world ---------------------------------------------------

class World:
    """Servers of one scenario, in its own folder; all stopped by PID."""

    def __init__(self, name, build, seed):
        self.name = name
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="herald-chaos-%s." % name)
        for d in ("log", "spool", "prov", "redis", "out"):
            os.makedirs(os.path.join(self.dir, d))
        self.procs = []  # Popen objects, stopped at the end
        self.rng = random.Random(seed)
        self.redis_port = None
        self.redis_proc = None
        self.redis_args = []
        self.heraldd = {}  # instance name -> Popen
        self.confs = {}
        self.notes = []
        self.checks = []  # (description, passed)
        # seconds the providers must stay quiet before the count: longer
        # than the slowest provider's answer, or a resend still waiting
        # for it would be missed
        self.settle = 2

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def spawn(self, argv, logname, env=None):
        log = open(self.path("out", logname), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append(p)
        return p

    @staticmethod
    def stop(p, timeout=5.0):
        if p.poll() is not None:
            return
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        except ProcessLookupError:
            pass

    def close(self):
        for p in reversed(self.procs):
            self.stop(p)

    # -- redis --
    def start_redis(self, appendfsync="everysec", port=None):
        self.redis_port = port or self.redis_port or free_port()
        self.redis_args = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "yes", "--appendfsync", appendfsync,
                           "--dir", self.path("redis"), "--daemonize", "no",
                           "--auto-aof-rewrite-min-size", "4gb"]
        self.redis_proc = self.spawn(self.redis_args, "redis.out")
        r = Redis(self.redis_port)
        if not wait_until(10, lambda: r.call("PING") == "PONG"):
            raise RuntimeError("redis-server did not start")
        r.close()
        self.r = Redis(self.redis_port)

    def restart_redis(self):
        self.redis_proc = self.spawn(self.redis_args, "redis.out")
        # loading the AOF: PING answers -LOADING until done
        if not wait_until(30, lambda: Redis(self.redis_port).call("PING") == "PONG"):
            raise RuntimeError("redis-server did not restart")

    # -- providers --
    def start_smtp(self, *opts):
        self.smtp_port = free_port()
        self.spawn([PY, os.path.join(HERE, "smtprelay.py"), str(self.smtp_port),
                    self.path("prov", "smtp.jsonl")] + [str(o) for o in opts], "smtp.out")
        wait_until(10, lambda: socket.create_connection(("127.0.0.1", self.smtp_port)).close()
                   or True)

    def start_smsgw(self, *opts):
        self.gw_port = free_port()
        self.spawn([PY, os.path.join(HERE, "smsgw.py"), str(self.gw_port),
                    self.path("prov", "sms.jsonl")] + [str(o) for o in opts], "smsgw.out")
        wait_until(10, lambda: socket.create_connection(("127.0.0.1", self.gw_port)).close()
                   or True)

    def start_proxy(self, pattern=None):
        self.proxy_port = free_port()
        # the one proxy of the tests (t_leases.sh uses it too)
        argv = [PY, os.path.join(HERE, "..", "integration", "redisproxy.py"),
                str(self.proxy_port), str(self.redis_port)]
        if pattern:
            argv += ["--cut-on", pattern]
        self.proxy = self.spawn(argv, "proxy.out")
        wait_until(10, lambda: socket.create_connection(("127.0.0.1", self.proxy_port)).close()
                   or True)

    # -- heraldd --
    def write_conf(self, inst, channels, queue=None, receipts=False, redis_port=None,
                   redis_extra=""):
        ingest, http = free_port(), free_port()
        q = {"consumer": "chaos-" + inst}
        q.update(queue or {})
        retry = "retry_min = 1\nretry_max = 2\n"
        sec = {
            "file": "[channel.file]\npath = %s\n%s" % (self.path("spool", "file-%s.jsonl" % inst),
                                                       retry),
            "email": ("[channel.email]\nrelay = 127.0.0.1:%s\nfrom = Chaos <noreply@chaos.test>\n"
                      "starttls = no\ndomain = chaos.test\nsessions = 4\ntimeout = 10\n%s"
                      % (getattr(self, "smtp_port", 0), retry)),
            "sms": ("[channel.sms]\nprofile = json\nurl = http://127.0.0.1:%s/json\n"
                    "max_in_flight = %s\ntimeout = 10\nquiet_hours = no\n%s"
                    % (getattr(self, "gw_port", 0), getattr(self, "sms_in_flight", 32), retry)),
        }
        text = ["[redis]\nhost = 127.0.0.1\nport = %d\n%s" % (redis_port or self.redis_port,
                                                             redis_extra),
                # CURVE is the default; the publisher has no keys
                "[ingest]\nendpoint = tcp://127.0.0.1:%d\nauth = none\n" % ingest,
                "[queue]\n" + "".join("%s = %s\n" % kv for kv in q.items()),
                "[log]\nfile = %s\njson = %s\npublish =\nlevel = info\n"
                % (self.path("log", inst + ".log"), self.path("log", inst + ".jsonl")),
                "[http]\nlisten = 127.0.0.1:%d\n%s" %
                (http, "public_url = http://127.0.0.1:%d\n" % http if receipts else ""),
                "[templates]\ndir = %s\n" % os.path.join(SRC, "templates"),
                "[channels]\ndir = %s\n" % os.path.join(self.build, "channels")]
        text += [sec[c] for c in channels]
        conf = self.path("herald-%s.conf" % inst)
        with open(conf, "w", encoding="utf-8") as f:
            f.write("\n".join(text))
        self.confs[inst] = (conf, "tcp://127.0.0.1:%d" % ingest)
        self.http_ports = getattr(self, "http_ports", {})
        self.http_ports[inst] = http
        return conf

    def metric(self, inst, name):
        """a counter of heraldd inst's /metrics (0 when absent or down)"""
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.http_ports[inst],
                                        timeout=2) as r:
                for line in r.read().decode().splitlines():
                    f = line.split()
                    if len(f) == 2 and f[0] == name:
                        return float(f[1])
        except OSError:
            pass
        return 0

    def start_heraldd(self, inst="a"):
        conf = self.confs[inst][0]
        out = self.path("out", "heraldd-%s.out" % inst)
        start = os.path.getsize(out) if os.path.exists(out) else 0
        p = self.spawn([os.path.join(self.build, "heraldd"), "-c", conf], "heraldd-%s.out" % inst)
        self.heraldd[inst] = p
        pat = ("heraldd[%d]: info: heraldd: ready" % p.pid).encode()

        def ready():
            with open(out, "rb") as f:
                f.seek(start)
                return pat in f.read()
        if not wait_until(30, ready):
            raise RuntimeError("heraldd %s did not become ready (see %s)" % (inst, out))
        return p

    def endpoint(self, inst="a"):
        return self.confs[inst][1]

    # -- citizens --
    def seed(self, n, prefix="c-", **fields):
        """n citizens prefix1..prefixN; a field value may be a function of i."""
        cmds = []
        for i in range(1, n + 1):
            c = ["HSET", "herald:citizen:%s%d" % (prefix, i), "name", "Ada %d" % i,
                 "locale", "en"]
            for k, v in fields.items():
                c += [k, v(i) if callable(v) else v]
            cmds.append(c)
            if len(cmds) >= 1000:
                self.r.pipe(cmds)
                cmds = []
        if cmds:
            self.r.pipe(cmds)

    # -- load --
    def publish(self, n, prefix, endpoints, citizens=8, cprefix="c-", extra="", window=200):
        self.prefix, self.n = prefix, n
        self.ackfile = self.path("acks.txt")
        argv = [os.path.join(self.build, "tests", "chaos", "pirate"), "-e", endpoints,
                "-n", str(n), "-o", self.ackfile, "-w", str(window), "-c", str(citizens),
                "-C", cprefix, "-p", prefix, "-r", "2500", "-g", "180"]
        if extra:
            argv += ["-x", extra]
        self.pirate = self.spawn(argv, "pirate.out")
        self.t0 = time.monotonic()
        return self.pirate

    def acked_count(self):
        try:
            with open(self.ackfile, "rb") as f:
                return f.read().count(b"\n")
        except OSError:
            return 0

    def acked_ids(self):
        ids = set()
        with open(self.ackfile, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    ids.add(parts[0])
        return ids

    def wait_acked(self, k, timeout=120):
        return wait_until(timeout, lambda: self.acked_count() >= k or
                          self.pirate.poll() is not None, 0.05)

    def wait_publisher(self, timeout=300):
        try:
            self.pirate.wait(timeout)
        except subprocess.TimeoutExpired:
            self.notes.append("publisher did not finish in %d s" % timeout)
            self.pirate.kill()
            self.pirate.wait()

    # -- what the providers took --
    def refmap(self):
        """provider reference -> event id. A reference is the first 12 bytes
        of HMAC-SHA256("<len>:<event id>\\n<channel>\\n<plan position>") under
        herald:secret (lib/provref.c), "hr" + 24 hex digits; it is the
        SMS reference and the local part of the email Message-ID."""
        if getattr(self, "_refs", None) is not None:
            return self._refs
        try:
            sec = self.r.call("GET", "herald:secret")
        except (OSError, RedisError):
            return {}  # not cached: asked again on the next count
        refs = {}
        if sec:
            key = bytes.fromhex(sec.strip())
            for e in self.acked_ids():
                for ch in ("sms", "email"):
                    for idx in range(4):
                        d = ("%d:%s\n%s\n%d" % (len(e.encode()), e, ch, idx)).encode()
                        refs["hr" + hmac.new(key, d, hashlib.sha256).hexdigest()[:24]] = e
            self._refs = refs
        return refs

    def deliveries(self):
        """event id -> {channel: times that channel's provider took it}."""
        d = {}

        def add(eid, ch):
            per = d.setdefault(eid, {})
            per[ch] = per.get(ch, 0) + 1
        spool = self.path("spool")
        for fn in os.listdir(spool):
            with open(os.path.join(spool, fn), "rb") as f:
                for line in f:
                    m = re.search(rb'"event_id":"([^"]+)"', line)
                    if m and line.endswith(b"\n"):
                        add(m.group(1).decode(), "file")
        refs = None
        for kind, ch, code, field in (("smtp", "email", 250, "mid"), ("sms", "sms", 202, "ref")):
            p = self.path("prov", kind + ".jsonl")
            if not os.path.exists(p):
                continue
            refs = self.refmap() if refs is None else refs
            with open(p, encoding="utf-8") as f:
                for line in f:
                    js = json.loads(line)
                    if js.get("code") == code:
                        ref = js[field].split("@")[0]
                        add(refs.get(ref, "unknown-ref:" + ref), ch)
        return d

    def provider_count(self, kind):
        p = self.path("prov", kind + ".jsonl")
        if not os.path.exists(p):
            return 0
        with open(p, "rb") as f:
            return f.read().count(b'"code": ')

    def marked(self):
        """event ids with a record marked as a possible duplicate."""
        ids = set()
        logs = self.path("log")
        for fn in os.listdir(logs):
            with open(os.path.join(logs, fn), "rb") as f:
                for line in f:
                    if fn.endswith(".jsonl") and b"possible_duplicate" in line:
                        try:
                            js = json.loads(line)
                        except ValueError:
                            continue
                        if js.get("possible_duplicate") is True:
                            ids.add(js.get("event_id"))
                    elif fn.endswith(".log") and b"dup=possible" in line:
                        m = re.match(rb"\S+ (\S+): ", line)
                        if m:
                            ids.add(m.group(1).decode())
        return ids

    def statuses(self):
        st = self.r.call("EVAL", STATUS_LUA, 0, self.prefix, self.n)
        return {"%s-%d" % (self.prefix, i + 1): s for i, s in enumerate(st)}

    def dead(self):
        return set(self.r.call("LRANGE", "herald:dead", 0, -1) or [])

    def wait_drain(self, timeout=120, stall=20):
        """Until every acked event is final in Redis and the providers
        have been quiet for self.settle s; or nothing changed for `stall` seconds
        (events Herald will not finish: counted as unsettled); or timeout."""
        acked = self.acked_ids()
        last, quiet, end = None, 0, time.monotonic() + timeout
        while time.monotonic() < end:
            time.sleep(1)
            try:
                st = self.statuses()
            except (OSError, RedisError):
                continue
            open_ = sum(1 for e in acked if st.get(e) not in FINAL)
            now = (open_, sum(sum(c.values()) for c in self.deliveries().values()))
            quiet = quiet + 1 if now == last else 0
            last = now
            if open_ == 0 and quiet >= self.settle:
                return True
            if quiet >= stall:
                self.notes.append("stalled: %d acked events not final, nothing changed for "
                                  "%d s" % (open_, stall))
                return False
        self.notes.append("not drained after %d s" % timeout)
        return False

    def count(self):
        acked = self.acked_ids()
        d = self.deliveries()
        marks = self.marked()
        dead = self.dead()
        try:
            st = self.statuses()
        except (OSError, RedisError):
            st = {}
        row = {"acked": len(acked), "delivered": 0, "lost": 0, "dup_marked": 0,
               "dup_unmarked": 0, "unsettled": 0, "dead": 0, "multi_channel": 0,
               "examples": {}}
        ex = row["examples"]
        for e in sorted(acked):
            per = d.get(e, {})
            k = max(per.values()) if per else 0
            if len(per) > 1:
                row["multi_channel"] += 1  # hopped after a send: not a duplicate
            if k:
                row["delivered"] += 1
            elif e in dead:
                row["dead"] += 1
            else:
                row["lost"] += 1
                ex.setdefault("lost", []).append(e)
            if k > 1:
                key = "dup_marked" if e in marks else "dup_unmarked"
                row[key] += 1
                ex.setdefault(key, []).append(e)
            if st.get(e) not in FINAL:
                row["unsettled"] += 1
                ex.setdefault("unsettled", []).append("%s:%s" % (e, st.get(e)))
        for k in ex:
            ex[k] = ex[k][:5]
        return row


# ---- scenarios ----------------------------------------------------------------

def base_file(w, inst="a", queue=None):
    w.start_redis()
    w.seed(8, channels="file")
    w.write_conf(inst, ["file"], queue)
    w.start_heraldd(inst)


def spool_lines(w):
    n = 0
    for fn in os.listdir(w.path("spool")):
        with open(w.path("spool", fn), "rb") as f:
            n += f.read().count(b"\n")
    return n


def sc_heraldd_kill9(w, n):
    """kill -9 heraldd five times while the file channel writes (at 1/6,
    2/6 ... 5/6 of the load written), restarting it each time."""
    base_file(w)
    w.publish(n, "k9", w.endpoint())
    for k in range(1, 6):
        wait_until(120, lambda: spool_lines(w) >= n * k // 6, 0.02)
        w.heraldd["a"].kill()
        w.heraldd["a"].wait()
        time.sleep(0.3)
        w.start_heraldd("a")
    w.wait_publisher()
    w.wait_drain()


def sigterm_and_time(w, limit):
    t = time.monotonic()
    w.heraldd["a"].send_signal(signal.SIGTERM)
    try:
        w.heraldd["a"].wait(60)
    except subprocess.TimeoutExpired:
        w.notes.append("heraldd still running 60 s after SIGTERM: killed")
        w.heraldd["a"].kill()
        w.heraldd["a"].wait()
    took = time.monotonic() - t
    w.extra["exit_s"] = round(took, 1)
    w.checks.append(("heraldd exits within drain_timeout 3 s + 2 (took %.1f s)" % took,
                     took <= limit))


def sc_heraldd_sigterm_slow(w, n):
    """SIGTERM heraldd while a slow SMS gateway (5 s) holds messages;
    it must exit within drain_timeout (3) + 2 s; restart it."""
    n = max(60, n // 100)
    w.settle = 8
    w.start_redis()
    w.start_smsgw("--delay", 5)
    w.sms_in_flight = 32
    w.seed(8, channels="sms", phone=lambda i: "+4477009%05d" % i)
    w.write_conf("a", ["sms"], {"drain_timeout": 3})
    w.start_heraldd("a")
    w.publish(n, "st", w.endpoint())
    wait_until(60, lambda: w.acked_count() >= n // 2)
    time.sleep(2)  # the gateway holds 32 requests
    sigterm_and_time(w, 5.0)
    time.sleep(0.5)
    w.start_heraldd("a")
    w.wait_publisher()
    w.wait_drain(180)
    return n


def sc_heraldd_sigterm_slow_email(w, n):
    """the same with an SMTP relay answering each message in 0.5 s (4
    sessions of up to 100 messages each)."""
    # one session of up to 100 takes them: 0.5 s each, in a row
    n = max(60, n // 100) if n >= 2000 else 20
    w.settle = 3
    w.start_redis()
    w.start_smtp("--delay", 0.5)
    w.seed(8, channels="email", email=lambda i: "c%d@example.org" % i)
    w.write_conf("a", ["email"], {"drain_timeout": 3})
    w.start_heraldd("a")
    w.publish(n, "ste", w.endpoint())
    wait_until(60, lambda: w.provider_count("smtp") >= 8)
    sigterm_and_time(w, 5.0)
    time.sleep(0.5)
    w.start_heraldd("a")
    w.wait_publisher()
    w.wait_drain(180)
    return n


def email_base(w, n, appendfsync="everysec"):
    w.start_redis(appendfsync)
    w.start_smtp("--delay", 0.02)
    w.seed(8, channels="email", email=lambda i: "c%d@example.org" % i)
    w.write_conf("a", ["email"])
    w.start_heraldd("a")
    w.publish(n, "em", w.endpoint())
    # mid-load with emails in flight: a quarter taken by the relay
    wait_until(120, lambda: w.provider_count("smtp") >= n // 4, 0.05)


def sc_redis_sigterm(w, n):
    """redis-server SIGTERM and restart while emails are in flight to a slow relay."""
    n = max(100, n // 10)
    email_base(w, n)
    w.stop(w.redis_proc, 30)
    time.sleep(1)
    w.restart_redis()
    w.wait_publisher()
    w.wait_drain(180)
    return n


def sc_redis_kill9_always(w, n):
    """redis-server kill -9 (appendfsync always) and restart, emails in flight."""
    n = max(100, n // 10)
    email_base(w, n, "always")
    w.redis_proc.kill()
    w.redis_proc.wait()
    time.sleep(1)
    w.restart_redis()
    w.wait_publisher()
    w.wait_drain(180)
    return n


def sc_redis_kill9_pipe(w, n):
    """redis-server kill -9 (appendfsync always) while heraldd's writes go
    out as herald_pipe scripts (script_batch = 1: every grouped send, so
    the kill falls among them at any load), restart on the same AOF."""
    n = max(1000, n)
    w.start_redis("always")
    w.seed(8, channels="file")
    w.write_conf("a", ["file"], redis_extra="script_batch = 1\nstate_connections = 0\n")
    w.start_heraldd("a")
    w.publish(n, "pk", w.endpoint())
    # a third written, and scripts on the wire (counted by heraldd itself)
    seen = wait_until(120, lambda: spool_lines(w) >= n // 3 and
                      w.metric("a", "herald_redis_script_batches_total") >= 5, 0.02)
    scripts = w.metric("a", "herald_redis_script_batches_total")
    w.redis_proc.kill()
    w.redis_proc.wait()
    w.extra["scripts_before_kill"] = scripts
    w.checks.append(("herald_pipe scripts went out before the kill (%d)" % scripts, seen))
    time.sleep(1)
    w.restart_redis()
    w.wait_publisher()
    w.wait_drain(180)
    return n


def sc_redis_cut(w, n):
    """the Redis link cut by a proxy at random points, 20 times."""
    w.start_redis()
    w.seed(8, channels="file")
    w.start_proxy()
    w.write_conf("a", ["file"], redis_port=w.proxy_port)
    w.start_heraldd("a")
    w.publish(n, "cut", w.endpoint())
    cuts = 0
    while cuts < 20:
        time.sleep(w.rng.uniform(0.1, 0.8))
        w.proxy.send_signal(signal.SIGUSR1)
        cuts += 1
    w.wait_publisher()
    w.wait_drain()


def sc_redis_cut_citizen(w, n):
    """the Redis link cut right after an HGETALL herald:citizen: went out, 10 times."""
    w.start_redis()
    w.seed(8, channels="file")
    w.start_proxy("herald:citizen:")
    w.write_conf("a", ["file"], redis_port=w.proxy_port)
    w.start_heraldd("a")
    w.publish(n, "hg", w.endpoint())
    out = w.path("out", "proxy.out")

    def cuts():
        with open(out, "rb") as f:
            return f.read().count(b"on pattern")
    for k in range(10):
        w.proxy.send_signal(signal.SIGUSR2)
        # armed until an HGETALL of a citizen goes by: none once the load is done
        if not wait_until(5, lambda: cuts() > k):
            w.notes.append("%d cuts on HGETALL herald:citizen:" % cuts())
            break
        time.sleep(w.rng.uniform(0.1, 0.5))
    w.wait_publisher()
    w.wait_drain()


def sc_slow_provider(w, n):
    """a provider slower than claim_idle: claim_idle = 2, the SMS gateway answers in 5 s."""
    n = min(100, max(50, n // 100))  # all with the gateway at once
    w.settle = 8
    w.start_redis()
    w.start_smsgw("--delay", 5)
    w.sms_in_flight = 100
    w.seed(8, channels="sms", phone=lambda i: "+4477009%05d" % i)
    w.write_conf("a", ["sms"], {"claim_idle": 2})
    w.start_heraldd("a")
    w.publish(n, "sp", w.endpoint())
    w.wait_publisher()
    w.wait_drain(120)
    return n


def sc_slow_provider_email(w, n):
    """the same with the SMTP relay answering each message in 2.5 s, claim_idle = 2."""
    n = 24 if n >= 2000 else 8  # one session takes them all: 2.5 s each, in a row
    w.settle = 6
    w.start_redis()
    w.start_smtp("--delay", 2.5)
    w.seed(8, channels="email", email=lambda i: "c%d@example.org" % i)
    w.write_conf("a", ["email"], {"claim_idle": 2})
    w.start_heraldd("a")
    w.publish(n, "se", w.endpoint())
    w.wait_publisher()
    w.wait_drain(120)  # one session: 24 x 2.5 s in a row
    return n


def sc_fast_receipts(w, n):
    """an SMS gateway that posts the delivery receipt before it answers the
    send: every receipt must count (plan sms only, no deliver_within: a
    dropped receipt leaves the message waiting, unsettled)."""
    n = max(100, n // 10)
    w.start_redis()
    w.start_smsgw("--receipt-first")
    w.seed(8, channels="sms", phone=lambda i: "+4477009%05d" % i)
    w.write_conf("a", ["sms"], receipts=True)
    w.start_heraldd("a")
    w.publish(n, "fr", w.endpoint())
    w.wait_publisher()
    w.wait_drain(120, stall=10)
    return n


def sc_two_instances_kill9(w, n):
    """two heraldd on one Redis (claim_idle 5), one killed with kill -9, not restarted."""
    w.start_redis()
    w.seed(8, channels="file")
    for inst in ("a", "b"):
        w.write_conf(inst, ["file"], {"claim_idle": 5})
        w.start_heraldd(inst)
    w.publish(n, "two", w.endpoint("a") + "," + w.endpoint("b"))
    wait_until(120, lambda: spool_lines(w) >= n // 2, 0.02)  # mid-delivery
    w.heraldd["a"].kill()
    w.heraldd["a"].wait()
    w.wait_publisher()
    w.wait_drain()


def sc_sentinel_failover(w, n):
    """Sentinel failover: master + 2 replicas + 3 sentinels, the master
    killed mid-load; heraldd finds the master through the sentinels
    ([redis] sentinels, master_name) and acks only once a replica has the
    event (replicas_ack = 1). Two replicas: the promoted one needs a
    replica of its own for replicas_ack = 1."""
    if not shutil.which("redis-sentinel"):
        raise Skip("redis-sentinel is not installed")
    w.start_redis()  # the master
    master = w.redis_port
    replicas = []
    for k in range(2):
        rp = free_port()
        replicas.append(rp)
        w.spawn(["redis-server", "--port", str(rp), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "yes", "--dir", w.path("redis"),
                 "--appendfilename", "replica%d.aof" % k, "--repl-diskless-sync-delay", "0",
                 "--replicaof", "127.0.0.1", str(master)], "replica%d.out" % k)
    sports = []
    for k in range(3):
        sp = free_port()
        sports.append(sp)
        conf = w.path("sentinel%d.conf" % k)
        with open(conf, "w", encoding="utf-8") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor herald 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds herald 1000\n"
                    "sentinel failover-timeout herald 4000\n"
                    "sentinel parallel-syncs herald 2\n" % (sp, w.dir, master))
        w.spawn(["redis-sentinel", conf], "sentinel%d.out" % k)

    def ready():
        info = w.r.call("INFO", "replication")
        if info.count("state=online") != 2:
            return False
        for sp in sports:
            s = Redis(sp)
            ok = str(s.call("SENTINEL", "ckquorum", "herald")).startswith("OK")
            reps = s.call("SENTINEL", "replicas", "herald") or []
            s.close()
            if not ok or len(reps) != 2:
                return False
        return True
    if not wait_until(30, ready, 0.2):
        raise RuntimeError("replicas or sentinels not ready in 30 s")
    w.seed(8, channels="file")
    # host/port: a port where nothing listens; only the sentinels lead to Redis
    w.write_conf("a", ["file"], {"claim_idle": 2}, redis_port=free_port(),
                 redis_extra="sentinels = %s\nmaster_name = herald\nreplicas_ack = 1\n"
                 "replicas_timeout_ms = 500\n" % ",".join("127.0.0.1:%d" % p for p in sports))
    w.start_heraldd("a")
    w.publish(n, "sen", w.endpoint())
    w.wait_acked(n // 2)
    w.redis_proc.kill()
    w.redis_proc.wait()

    def promoted():
        s = Redis(sports[0])
        addr = s.call("SENTINEL", "get-master-addr-by-name", "herald")
        s.close()
        return int(addr[1]) in replicas and int(addr[1])
    if not wait_until(30, promoted, 0.2):
        raise RuntimeError("no replica promoted in 30 s")
    w.r = Redis(promoted())
    w.notes.append("promoted 127.0.0.1:%d" % w.r.port)
    w.wait_publisher()
    w.wait_drain(180)


def pct(vals, p):
    if not vals:
        return None
    k = max(0, min(len(vals) - 1, int(p * len(vals) + 0.999999) - 1))
    return vals[k]


def sc_reach(w, n):
    """10,000 citizens, plans of 2-3 channels (sms, email, then file, which
    always works) over gateways failing at random: sms 3 % permanent, 5 %
    temporary, 3 % without receipt; email 3 % permanent, 5 % temporary.
    deliver_within 10 s; fulfilled = the first delivered (or final sent);
    judged within 2 x deliver_within (see below)."""
    n = max(200, n // 2) if n < 20000 else 10000
    dw = 10
    w.start_redis()
    w.start_smtp("--perm", 0.03, "--temp", 0.05, "--seed", 3)
    w.start_smsgw("--perm", 0.03, "--temp", 0.05, "--noreceipt", 0.03, "--seed", 5)
    plans = ["sms,email,file", "email,sms,file", "sms,file", "email,file"]
    w.seed(n, prefix="r-", channels=lambda i: plans[i % 4],
           email=lambda i: "r%d@example.org" % i, phone=lambda i: "+4477%08d" % i)
    w.write_conf("a", ["sms", "email", "file"], receipts=True)
    w.start_heraldd("a")
    w.publish(n, "reach", w.endpoint(), citizens=n, cprefix="r-",
              extra=',"deliver_within":%d' % dw)
    w.wait_publisher()
    w.wait_drain(240)
    # fulfilment: the first record with fulfilled_in, per event
    ful = {}
    for fn in os.listdir(w.path("log")):
        if not fn.endswith(".jsonl"):
            continue
        with open(w.path("log", fn), "rb") as f:
            for line in f:
                if b"fulfilled_in" not in line:
                    continue
                js = json.loads(line)
                e = js.get("event_id")
                if e not in ful and isinstance(js.get("fulfilled_in"), (int, float)):
                    ful[e] = float(js["fulfilled_in"])
    acked = w.acked_ids()
    times = sorted(ful[e] for e in acked if e in ful)
    # The deadline: 2 x deliver_within. Only the SMS gateway leaves sends
    # without a receipt (3 %), and every plan has one SMS at most, so a
    # message waits deliver_within once at most before it hops (prepare.c:
    # "sent" + deliver_within); the second deliver_within is room for the
    # retries around it (retry_min 1 s, retry_max 2 s) and the next
    # channel's own send. Within deliver_within itself the share cannot
    # reach 99.9 %: about 1.5 % of messages (SMS first, no receipt) wait
    # exactly that long before they may hop.
    deadline = 2 * dw
    within = sum(1 for t in times if t <= deadline)
    share = within / len(acked) if acked else 0.0
    w.extra.update({"fulfilled": len(times), "deliver_within_s": dw, "deadline_s": deadline,
                    "fulfilled_within_deliver_within": sum(1 for t in times if t <= dw),
                    "fulfilled_within_deadline": within,
                    "fulfilled_within_3dw": sum(1 for t in times if t <= 3 * dw),
                    "share_within_deadline": round(share, 5),
                    "p50_s": pct(times, 0.5), "p90_s": pct(times, 0.9),
                    "p99_s": pct(times, 0.99), "max_s": times[-1] if times else None})
    w.checks.append(("reach: %.2f %% fulfilled within %d s = 2 x deliver_within (>= 99.9 %%)"
                     % (share * 100, deadline), share >= 0.999))
    w.checks.append(("reach: nothing lost", w.count()["lost"] == 0))
    w.reach = True
    return n


class Skip(Exception):
    pass


SCENARIOS = [
    ("heraldd_kill9", sc_heraldd_kill9),
    ("heraldd_sigterm_slow", sc_heraldd_sigterm_slow),
    ("heraldd_sigterm_slow_email", sc_heraldd_sigterm_slow_email),
    ("redis_sigterm_email", sc_redis_sigterm),
    ("redis_kill9_always_email", sc_redis_kill9_always),
    ("redis_kill9_always_pipe", sc_redis_kill9_pipe),
    ("redis_cut_random", sc_redis_cut),
    ("redis_cut_citizen", sc_redis_cut_citizen),
    ("slow_provider_claim", sc_slow_provider),
    ("slow_provider_claim_email", sc_slow_provider_email),
    ("fast_receipts", sc_fast_receipts),
    ("two_instances_kill9", sc_two_instances_kill9),
    ("sentinel_failover", sc_sentinel_failover),
    ("reach", sc_reach),
]


def run_one(name, fn, build, events, seed):
    w = World(name, build, seed)
    w.extra = {}
    w.reach = False
    t0 = time.monotonic()
    row = {"scenario": name, "events": events}
    try:
        got = fn(w, events)
        if got:
            row["events"] = got
        row.update(w.count())
        ok = (row["lost"] == 0 and row["dup_unmarked"] == 0 and row["unsettled"] == 0 and
              all(c[1] for c in w.checks))
        row["result"] = "PASS" if ok else "FAIL"
    except Skip as e:
        row["result"] = "SKIP"
        w.notes.append(str(e))
    except Exception as e:  # noqa: BLE001 - a broken scenario is a failure
        row["result"] = "ERROR"
        w.notes.append("%s: %s" % (type(e).__name__, e))
        try:
            row.update(w.count())
        except Exception:  # noqa: BLE001
            pass
    finally:
        w.close()
    # under make check's sanitizer build: any report in heraldd's output fails
    bad = re.compile(rb"AddressSanitizer|LeakSanitizer|runtime error:|panic:|fatal:")
    for fn in sorted(os.listdir(w.path("out"))):
        if fn.startswith("heraldd"):
            with open(w.path("out", fn), "rb") as f:
                if bad.search(f.read()):
                    w.checks.append(("no sanitizer report or panic in %s" % fn, False))
                    if row.get("result") == "PASS":
                        row["result"] = "FAIL"
    row["seconds"] = round(time.monotonic() - t0, 1)
    row["checks"] = [{"what": c[0], "ok": c[1]} for c in w.checks]
    row["notes"] = w.notes
    row.update(w.extra)
    if row["result"] in ("PASS", "SKIP") and os.environ.get("KEEP") != "1":
        shutil.rmtree(w.dir, ignore_errors=True)
    else:
        row["kept"] = w.dir
    return row


COLS = [("scenario", 26), ("events", 7), ("acked", 7), ("delivered", 9), ("lost", 6),
        ("dup_marked", 10), ("dup_unmarked", 12), ("unsettled", 9), ("seconds", 7),
        ("result", 6)]


def fmt_row(row):
    return "  ".join(str(row.get(c, "-")).ljust(w) if c == "scenario" else
                     str(row.get(c, "-")).rjust(w) for c, w in COLS)


def markdown(rows):
    """The table as Markdown (build/chaos.md), for the README."""
    cols = [c for c, _ in COLS]
    if any(r.get("run", 1) > 1 for r in rows):
        cols.insert(1, "run")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("`%s`" % r[c] if c == "scenario" else str(r.get(c, "-"))
                                       for c in cols) + " |")
    for r in rows:
        if r["scenario"] == "reach" and "p50_s" in r:
            lines.append("\nreach%s: %d of %d fulfilled, %.2f %% within %d s, %d within "
                         "deliver_within (%d s); time to fulfilment p50 %s s, p90 %s s, "
                         "p99 %s s, max %s s." %
                         ("" if r.get("run", 1) == 1 else " (run %d)" % r["run"],
                          r["fulfilled"], r["acked"], r["share_within_deadline"] * 100,
                          r["deadline_s"], r["fulfilled_within_deliver_within"],
                          r["deliver_within_s"], r["p50_s"], r["p90_s"], r["p99_s"],
                          r.get("max_s")))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--only", default=os.environ.get("CHAOS_ONLY", ""))
    ap.add_argument("--runs", type=int, default=int(os.environ.get("CHAOS_RUNS", "1")))
    ap.add_argument("--quick", action="store_true", default=os.environ.get("CHAOS_QUICK") == "1")
    ap.add_argument("--events", type=int, default=int(os.environ.get("CHAOS_EVENTS", "0")))
    ap.add_argument("--out", default=None)
    ap.add_argument("--tap", action="store_true",
                    help="also one ok / not ok line per scenario run (tests/run.sh)")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    events = a.events or (2000 if a.quick else 20000)
    out = a.out or os.path.join(build, "chaos.json")
    seed = int(os.environ.get("CHAOS_SEED", "12"))
    for b in ("heraldd", "tests/chaos/pirate", "channels/file.so"):
        if not os.path.exists(os.path.join(build, b)):
            print("chaos: missing %s/%s (make chaos-bins)" % (build, b))
            return 2
    chosen = [(n, f) for n, f in SCENARIOS if not a.only or re.search(a.only, n)]
    header = "  ".join(c.ljust(w) if c == "scenario" else c.rjust(w) for c, w in COLS)
    results, failed = [], 0
    t_all = time.monotonic()
    for run in range(1, a.runs + 1):
        print("chaos: run %d of %d, %d events per scenario%s" %
              (run, a.runs, events, " (quick)" if a.quick else ""), flush=True)
        rows = []
        for name, fn in chosen:
            row = run_one(name, fn, build, events, seed + run)
            row["run"] = run
            rows.append(row)
            print(fmt_row(row), flush=True)
            for c in row["checks"]:
                print("    %s %s" % ("ok" if c["ok"] else "NOT OK", c["what"]))
            for nt in row["notes"]:
                print("    note: %s" % nt)
            for k, v in (row.get("examples") or {}).items():
                print("    e.g. %s: %s" % (k, " ".join(v)))
            if row.get("kept"):
                print("    kept %s" % row["kept"])
            if row["result"] in ("FAIL", "ERROR"):
                failed += 1
        print("\n" + header)
        for row in rows:
            print(fmt_row(row))
        for row in rows:
            if row["scenario"] == "reach" and "p50_s" in row:
                print("reach: %d of %d fulfilled, %.2f %% within %d s (%d within deliver_within "
                      "%d s); time to fulfilment p50 %s s, p90 %s s, p99 %s s, max %s s" %
                      (row["fulfilled"], row["acked"], row["share_within_deadline"] * 100,
                       row["deadline_s"], row["fulfilled_within_deliver_within"],
                       row["deliver_within_s"], row["p50_s"], row["p90_s"], row["p99_s"],
                       row.get("max_s")))
        results += rows
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"events": events, "quick": a.quick, "runs": a.runs,
                   "seconds": round(time.monotonic() - t_all, 1), "scenarios": results},
                  f, indent=1)
    with open(os.path.splitext(out)[0] + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(results))
    if a.tap:
        for row in results:
            what = ("chaos %s (run %d): lost=%s dup_unmarked=%s unsettled=%s" %
                    (row["scenario"], row["run"], row.get("lost", "-"),
                     row.get("dup_unmarked", "-"), row.get("unsettled", "-")))
            if row["result"] == "SKIP":
                print("ok - %s # SKIP %s" % (what, "; ".join(row["notes"])))
            else:
                print("%s - %s" % ("ok" if row["result"] == "PASS" else "not ok", what))
    print("chaos: %d scenario runs, %d failed, %.0f s; written to %s (and .md)" %
          (len(results), failed, time.monotonic() - t_all, out))
    return 1 if failed else 0


if __name__ == "__main__":
    def _term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _term)
    sys.exit(main())
