"""Exports metrics to meterd with the OpenTelemetry Python SDK and its OTLP/HTTP exporter.

Usage: python3 otel_metrics.py ENDPOINT      (e.g. http://127.0.0.1:4318/v1/metrics)

Three meter providers, one after the other, as three runs of an instrumented program:
  A. cumulative temporality (the SDK's default), gzip: a counter, an up-down counter, a
     histogram, an exponential histogram and an observable gauge, recorded and exported over several rounds, the last
     export repeating the one before it unchanged;
  B. cumulative again, a new provider (a restarted program: a new start time) adding to A's
     counter;
  C. delta temporality, no compression: a counter and a histogram exported after each round.
Every export goes to meterd under the Fiware-Service "shop". Prints, as JSON, what the program
recorded (the values meterd must show) and how many exports failed.
"""

import json
import sys

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

endpoint = sys.argv[1]
results = []


class CountingExporter(OTLPMetricExporter):
    """The OTLP/HTTP exporter, remembering whether each export succeeded."""

    def export(self, metrics_data, timeout_millis=10_000, **kwargs):
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        results.append(result == MetricExportResult.SUCCESS)
        return result


def provider(compression, temporality=None, views=()):
    exporter = CountingExporter(
        endpoint=endpoint,
        headers={"Fiware-Service": "shop"},
        compression=compression,
        preferred_temporality=temporality or {},
    )
    # Exports happen only when flushed (the interval is an hour).
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "checkout", "service.instance.id": "i-1"})
    return MeterProvider(metric_readers=[reader], resource=resource, views=list(views))


def flush(p):
    if not p.force_flush(10_000):
        results.append(False)


expected = {}

# A: cumulative, gzip; "shop.payload" is an exponential histogram.
payload_view = View(
    instrument_name="shop.payload", aggregation=ExponentialBucketHistogramAggregation()
)
a = provider(Compression.Gzip, views=[payload_view])
meter = a.get_meter("shop.checkout", "1.0")
orders = meter.create_counter("shop.orders", unit="{order}", description="Orders placed")
queue = meter.create_up_down_counter("shop.queue.depth")
latency = meter.create_histogram("shop.latency", unit="ms", description="Checkout latency")
payload = meter.create_histogram("shop.payload", unit="By")
temperature = [21.5]


def read_temperature(options: CallbackOptions):
    yield Observation(temperature[0], {"room": "server"})


meter.create_observable_gauge("shop.temperature", callbacks=[read_temperature], unit="Cel")

card = {"payment.method": "card"}
rounds = [
    # (orders, queue changes, latencies, temperature, payload sizes)
    ([3, 2], [5, -2], [12.5, 80.0], 21.5, [512.0, 0.0]),
    ([4], [-1], [3.0, 250.0, 999.5], 22.0, [3.0, 70_000.0]),
    ([], [], [], 19.25, [0.75]),
]
recorded = []
sizes_recorded = []
for add_orders, changes, values, temp, sizes_now in rounds:
    for n in add_orders:
        orders.add(n, card)
    for c in changes:
        queue.add(c)
    for v in values:
        latency.record(v, {"route": "/pay"})
        recorded.append(v)
    for v in sizes_now:
        payload.record(v)
        sizes_recorded.append(v)
    temperature[0] = temp
    flush(a)
flush(a)  # the same cumulative values once more
a.shutdown()

# B: a restarted program (a new start time) adds to the same counter.
b = provider(Compression.Gzip)
b.get_meter("shop.checkout", "1.0").create_counter("shop.orders", unit="{order}").add(10, card)
flush(b)
flush(b)
b.shutdown()

expected["shop.orders;instance=i-1;job=checkout;payment_method=card"] = 3 + 2 + 4 + 10
expected["shop.queue.depth;instance=i-1;job=checkout"] = 5 - 2 - 1
expected["shop.temperature;instance=i-1;job=checkout;room=server"] = 19.25
expected["shop.latency;instance=i-1;job=checkout;route=/pay"] = {
    "count": len(recorded),
    "sum": sum(recorded),
    "min": min(recorded),
    "max": max(recorded),
}
expected["shop.payload;instance=i-1;job=checkout"] = {
    "count": len(sizes_recorded),
    "sum": sum(sizes_recorded),
    "min": min(sizes_recorded),
    "max": max(sizes_recorded),
}

# C: delta temporality, no compression.
c = provider(
    Compression.NoCompression,
    {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA},
)
meter = c.get_meter("shop.jobs")
done = meter.create_counter("jobs.done")
size = meter.create_histogram("jobs.size", unit="By")
sizes = [[1.0, 5.0], [7.5], [2048.0, 0.25]]
for batch in sizes:
    done.add(len(batch))
    for s in batch:
        size.record(s)
    flush(c)
c.shutdown()

every = [s for batch in sizes for s in batch]
expected["jobs.done;instance=i-1;job=checkout"] = len(every)
expected["jobs.size;instance=i-1;job=checkout"] = {
    "count": len(every),
    "sum": sum(every),
    "min": min(every),
    "max": max(every),
}

print(json.dumps({"expected": expected, "exports": len(results), "failed": results.count(False)}))
