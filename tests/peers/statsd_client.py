"""Sends a fixed set of metrics to meterd over UDP with the `statsd` client library.

Usage: python3 statsd_client.py HOST PORT

Counters, timers (a number of ms and a timedelta), gauges with deltas, a negative gauge (which
the library sends as a two-line packet "0|g" then "-7|g"), sets, and a pipeline (one
multi-line packet). Prints "<datagrams> <lines>" it sent, for the test to wait on.
"""

import sys
from datetime import timedelta

import statsd

host, port = sys.argv[1], int(sys.argv[2])
client = statsd.StatsClient(host, port, prefix="py")

datagrams = 0
lines = 0


def sent(n_lines=1):
    global datagrams, lines
    datagrams += 1
    lines += n_lines


client.incr("requests")
sent()
client.incr("requests", 4)
sent()
client.timing("latency", 12)
sent()
client.timing("latency", timedelta(milliseconds=30))
sent()
client.gauge("temperature", 20)
sent()
client.gauge("temperature", 5, delta=True)
sent()
client.gauge("temperature", -3, delta=True)
sent()
client.gauge("balance", -7)
sent(2)
for user in ["alice", "bob", "alice"]:
    client.set("users", user)
    sent()
with client.pipeline() as pipe:
    pipe.incr("piped", 2)
    pipe.incr("piped")
    pipe.timing("piped_latency", 7)
    pipe.gauge("piped_gauge", 9)
    pipe.set("piped_users", "carol")
sent(5)

print(datagrams, lines)
