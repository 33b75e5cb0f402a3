"""Request counters and latency histograms in the Prometheus text format (``GET /metrics``).

Per process: with ``--workers N`` each worker counts its own requests (Prometheus sums
them when it scrapes every worker, or use one worker per container).
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

# Latency buckets in seconds (upper bounds), as the Prometheus client library's defaults, finer below 5 ms.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[str, str, str, str]  # endpoint, model, version, variant


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[Labels, int], int] = defaultdict(int)
        self._errors: dict[Labels, int] = defaultdict(int)
        self._hist: dict[Labels, list[int]] = {}
        self._sum: dict[Labels, float] = defaultdict(float)

    def observe(self, labels: Labels, status: int, seconds: float) -> None:
        i = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            self._requests[(labels, status)] += 1
            if status >= 400:
                self._errors[labels] += 1
            counts = self._hist.get(labels)
            if counts is None:
                counts = self._hist[labels] = [0] * (len(BUCKETS) + 1)
            counts[i] += 1
            self._sum[labels] += seconds

    def render(self) -> str:
        with self._lock:
            requests, errors = dict(self._requests), dict(self._errors)
            hist = {k: list(v) for k, v in self._hist.items()}
            sums = dict(self._sum)
        out = ["# HELP nbops_requests_total Requests answered, by endpoint, model, version, variant and status.",
               "# TYPE nbops_requests_total counter"]
        out += [f"nbops_requests_total{{{_labels(lb)},status=\"{st}\"}} {n}"
                for (lb, st), n in sorted(requests.items())]
        out += ["# HELP nbops_request_errors_total Requests answered with a 4xx or 5xx status.",
                "# TYPE nbops_request_errors_total counter"]
        out += [f"nbops_request_errors_total{{{_labels(lb)}}} {n}" for lb, n in sorted(errors.items())]
        out += ["# HELP nbops_request_duration_seconds Time from request to response, in the server.",
                "# TYPE nbops_request_duration_seconds histogram"]
        for lb, counts in sorted(hist.items()):
            base, total = _labels(lb), 0
            for bound, c in zip((*BUCKETS, float("inf")), counts, strict=True):
                total += c
                le = "+Inf" if bound == float("inf") else repr(bound)
                out.append(f"nbops_request_duration_seconds_bucket{{{base},le=\"{le}\"}} {total}")
            out.append(f"nbops_request_duration_seconds_sum{{{base}}} {sums[lb]:.6f}")
            out.append(f"nbops_request_duration_seconds_count{{{base}}} {total}")
        return "\n".join(out) + "\n"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(lb: Labels) -> str:
    names = ("endpoint", "model", "version", "variant")
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, lb, strict=True))
