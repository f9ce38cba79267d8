"""Request counts and latency histograms in the Prometheus text exposition format (0.0.4).

Labels use the route *template* (``/v1/delivery/rank``, not the raw path), so the number of
series stays bounded whatever clients send.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable

__all__ = ["BUCKETS", "Metrics"]

# Seconds; fine below 50 ms where ad-serving budgets live.
BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25,
           0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _label(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(v: float) -> str:
    return repr(float(v)) if v != int(v) else f"{int(v)}"


class Metrics:
    """Counters and histograms of the HTTP requests one service process has answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, str], int] = {}
        self._hist: dict[tuple[str, str], list[float]] = {}  # bucket counts + [sum, count]
        self.in_flight = 0
        self.started = time.time()
        self.gauges: list[Callable[[], list[str]]] = []

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one answered request."""
        key = (method, route, str(status))
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            h = self._hist.get((method, route))
            if h is None:
                h = self._hist[(method, route)] = [0.0] * (len(BUCKETS) + 2)
            i = bisect.bisect_left(BUCKETS, seconds)
            if i < len(BUCKETS):
                h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def render(self) -> str:
        """The exposition text."""
        out = [
            "# HELP adwise_http_requests_total HTTP requests answered, by route and status.",
            "# TYPE adwise_http_requests_total counter",
        ]
        with self._lock:
            counts = dict(self._counts)
            hist = {k: list(v) for k, v in self._hist.items()}
        for (m, r, s), n in sorted(counts.items()):
            out.append(
                f'adwise_http_requests_total{{method="{_label(m)}",route="{_label(r)}",'
                f'status="{s}"}} {n}'
            )
        out += [
            "# HELP adwise_http_request_duration_seconds Time to answer a request.",
            "# TYPE adwise_http_request_duration_seconds histogram",
        ]
        for (m, r), h in sorted(hist.items()):
            lab = f'method="{_label(m)}",route="{_label(r)}"'
            cum = 0.0
            for b, c in zip(BUCKETS, h[: len(BUCKETS)], strict=True):
                cum += c
                out.append(
                    f'adwise_http_request_duration_seconds_bucket{{{lab},le="{b}"}} {_fmt(cum)}'
                )
            out.append(
                f'adwise_http_request_duration_seconds_bucket{{{lab},le="+Inf"}} {_fmt(h[-1])}'
            )
            out.append(f"adwise_http_request_duration_seconds_sum{{{lab}}} {h[-2]!r}")
            out.append(f"adwise_http_request_duration_seconds_count{{{lab}}} {_fmt(h[-1])}")
        out += [
            "# HELP adwise_http_requests_in_flight Requests being answered now.",
            "# TYPE adwise_http_requests_in_flight gauge",
            f"adwise_http_requests_in_flight {self.in_flight}",
            "# HELP adwise_process_start_time_seconds When the service started (Unix time).",
            "# TYPE adwise_process_start_time_seconds gauge",
            f"adwise_process_start_time_seconds {self.started!r}",
        ]
        for g in self.gauges:
            out += g()
        return "\n".join(out) + "\n"
