"""Latency and throughput of `adwise serve` under load on loopback.

A real `adwise serve` (uvicorn, `--workers N` processes) serves a synthetic workspace with trained
models; this process drives it with a lean asyncio HTTP/1.1 keep-alive client. For each scenario
and worker count: first the throughput at saturation (closed loop: `--concurrency` clients send
as fast as they are answered), then the latency at 50 % of that throughput (open loop: requests
are sent on schedule whether or not earlier ones finished, so queueing shows up in the tail;
latency counts from the scheduled send time), and at any fixed `--rates`. The machine's 1-minute
load average is printed beside each measurement (other jobs on the CPUs change everything).
Bounded: a fixed number of requests and a time cap per measurement.

Scenarios (each skipped, and said so, when its capability router is not installed):
  recommend POST /v1/delivery/recommend  one user, the recommender proposes candidates, top 5
  rank      POST /v1/delivery/recommend  one user, 100 candidate ads, top 10
  score     POST /v1/behavior/predict    a batch of 100 events
  auth      GET  /v1/whoami              the service's own overhead (auth, metrics, routing)

Run: .venv/bin/python benchmarks/serve.py [--scenarios recommend,rank] [--workers 1,2]
     [--rates 100] [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 5.0  # a request not answered within this counts as an error
ADWISE = [str(Path(sys.executable).parent / "adwise")]


def sh(*args: str) -> str:
    out = subprocess.run([*ADWISE, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"adwise {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_workspace(tmp: Path, users: int, ads: int, days: int) -> tuple[Path, Path, dict]:
    world, ws = tmp / "world", tmp / "ws"
    sh("synth", "--out", str(world), "--users", str(users), "--ads", str(ads), "--days",
       str(days), "--seed", "3")
    sh("init", str(ws))
    for t in ("users", "ads", "events"):
        sh("ingest", str(world / f"{t}.parquet"), "--table", t, "--workspace", str(ws))
    trained = {}
    for cap in ("behavior", "delivery"):
        try:
            sh(cap, "train", "--workspace", str(ws))
            trained[cap] = True
        except RuntimeError as exc:
            trained[cap] = str(exc).splitlines()[0][:200]
    return world, ws, trained


class Conn:
    """One keep-alive HTTP/1.1 connection (a lean client: on 2 cores httpx itself costs
    ~3 ms of CPU per request, which would measure the client instead of the server)."""

    def __init__(self, reader, writer) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.lower() == "content-length":
                length = int(v)
        body = await self.reader.readexactly(length)
        return status, body

    def close(self) -> None:
        self.writer.close()


class Pool:
    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.free: list[Conn] = []
        self.opened = 0
        self.cond = asyncio.Condition()

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        async with self.cond:
            while not self.free and self.opened >= self.size:
                await self.cond.wait()
            conn = self.free.pop() if self.free else None
            if conn is None:
                self.opened += 1
        if conn is None:
            conn = await Conn.open(self.host, self.port)
        try:
            out = await conn.request(raw)
        except BaseException:  # includes cancellation by a timeout: the connection is dirty
            conn.close()
            async with self.cond:
                self.opened -= 1
                self.cond.notify()
            raise
        async with self.cond:
            self.free.append(conn)
            self.cond.notify()
        return out

    def close(self) -> None:
        for c in self.free:
            c.close()


def raw_request(method: str, path: str, body: dict | None, key: str) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


async def open_loop(pool: Pool, raw: bytes, rate: float, n: int, cap_s: float):
    """Send ``n`` requests at ``rate``/s on schedule (open loop: queueing shows in the tail);
    latency counts from the scheduled send time. Returns latencies (s), errors, req/s."""
    lat: list[float] = []
    errors = 0

    async def one(at: float) -> None:
        nonlocal errors
        try:
            status, _ = await asyncio.wait_for(pool.request(raw), TIMEOUT_S)
            ok = status == 200
        except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            ok = False
        lat.append(time.perf_counter() - at)
        errors += not ok

    n = min(n, int(rate * cap_s))
    tasks = []
    start = time.perf_counter()
    for i in range(n):
        at = start + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(at)))
    await asyncio.gather(*tasks)
    return np.array(lat), errors, n / (time.perf_counter() - start)


async def closed_loop(pool: Pool, raw: bytes, concurrency: int, seconds: float):
    count = errors = 0
    lat: list[float] = []
    bad: dict[str, int] = {}
    end = time.perf_counter() + seconds

    async def worker():
        nonlocal count, errors
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                status, _ = await asyncio.wait_for(pool.request(raw), TIMEOUT_S)
                if status != 200:
                    errors += 1
                    bad[str(status)] = bad.get(str(status), 0) + 1
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                errors += 1
                bad[type(exc).__name__] = bad.get(type(exc).__name__, 0) + 1
            lat.append(time.perf_counter() - t)
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if bad:
        print(f"  closed-loop failures: {bad}")
    return np.array(lat), errors, count / (time.perf_counter() - start)


def scenarios(spec: dict, world: Path) -> list[tuple[str, str, str, dict | None, str]]:
    import pandas as pd

    paths = spec["paths"]
    events = pd.read_parquet(world / "events.parquet")
    ads = events["ad_id"].drop_duplicates().head(100).tolist()
    user = str(events["user_id"].iloc[0])
    out = []
    if "/v1/delivery/recommend" in paths:
        out.append(("recommend", "POST", "/v1/delivery/recommend", {"users": [user], "k": 5},
                    "one user, recommender's candidates, top 5"))
        body = {"users": [user], "candidates": ads, "k": 10}
        out.append(("rank", "POST", "/v1/delivery/recommend", body,
                    f"one user, {len(ads)} candidate ads, top 10"))
    else:
        out.append(("recommend", "", "", None, "not benchmarked: no delivery router"))
        out.append(("rank", "", "", None, "not benchmarked: no delivery router"))
    if "/v1/behavior/predict" in paths:
        rows = events.head(100)
        body = {"events": [{"user_id": str(u), "ad_id": str(a), "placement": str(p),
                            "ts": str(t)} for u, a, p, t in
                           zip(rows["user_id"], rows["ad_id"], rows["placement"], rows["ts"],
                               strict=True)]}
        out.append(("score", "POST", "/v1/behavior/predict", body, "batch of 100 events"))
    else:
        out.append(("score", "", "", None, "not benchmarked: no behavior router"))
    out.append(("auth", "GET", "/v1/whoami", None, "service overhead only"))
    return out


def load1() -> float:
    return os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="recommend,rank,score,auth")
    ap.add_argument("--workers", default="1", help="Worker counts to compare, e.g. 1,2.")
    ap.add_argument("--rates", default="",
                    help="Fixed open-loop arrival rates (req/s), comma-separated, measured "
                         "besides 50 %% of saturation.")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--cap-seconds", type=float, default=5.0)
    ap.add_argument("--closed-seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--ads", type=int, default=200)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="Write the markdown table here.")
    args = ap.parse_args()
    wanted = set(args.scenarios.split(","))
    worker_counts = [int(x) for x in args.workers.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="adwise-serve-bench-"))
    t = time.perf_counter()
    world, ws, trained = build_workspace(tmp, args.users, args.ads, args.days)
    print(f"workspace ready in {time.perf_counter() - t:.0f} s; trained: {trained}; "
          f"{os.cpu_count()} CPUs, load average {load1():.2f}")
    key = json.loads(sh("keys", "create", "--name", "bench", "--workspace", str(ws),
                        "--json"))["key"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    rows = []

    def start_server(workers: int = 1) -> tuple[subprocess.Popen, int]:
        port = free_port()
        more = ["--workers", str(workers)] if workers > 1 else []  # older checkouts: no flag
        proc = subprocess.Popen([*ADWISE, "serve", "--port", str(port), "--workspace", str(ws),
                                 *more],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return proc, port
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("adwise serve did not start")

    def stop_server(proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the workers too; a fresh server per measurement
        proc.wait(10)

    async def measure(port: int, raw: bytes, kind: str, rate: float = 0.0):
        pool = Pool("127.0.0.1", port, args.concurrency)
        try:
            # warm-up: load the model in every worker, open connections
            warm = await asyncio.gather(*(pool.request(raw) for _ in range(4 * args.concurrency)))
            bad = [(st, text) for st, text in warm if st != 200]
            if bad:
                return None, f"warm-up got {bad[0][0]} {bad[0][1][:200]!r}"
            if kind == "closed":
                return await closed_loop(pool, raw, args.concurrency, args.closed_seconds), ""
            return await open_loop(pool, raw, rate, args.requests, args.cap_seconds), ""
        finally:
            pool.close()

    def run(workers: int, raw: bytes, kind: str, rate: float = 0.0):
        proc, port = start_server(workers)
        try:
            before = load1()
            out, problem = asyncio.run(measure(port, raw, kind, rate))
            return out, problem, max(before, load1())
        finally:
            stop_server(proc)

    proc, port = start_server()
    try:
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
    finally:
        stop_server(proc)
    for name, method, path, body, what in scenarios(spec, world):
        if name not in wanted:
            continue
        if not path:
            rows.append((name, what, None))
            continue
        raw = raw_request(method, path, body, key)
        for workers in worker_counts:
            closed, problem, cload = run(workers, raw, "closed")
            if closed is None:
                rows.append((name, f"{what}: {problem}", None))
                continue
            clat, cerr, crps = closed
            rates = [crps / 2] + [float(x) for x in args.rates.split(",") if x]
            for rate in rates:
                (lat, err, rps), _, oload = run(workers, raw, "open", rate)
                rows.append((name, what, dict(
                    workers=workers, sat=crps, sat_p99=np.percentile(clat, 99) * 1e3,
                    sat_errors=cerr, sat_load=cload, rate=rate, n=len(lat),
                    p50=np.percentile(lat, 50) * 1e3, p99=np.percentile(lat, 99) * 1e3,
                    rps=rps, errors=err, load=oload)))
                print(f"{name} workers={workers}: saturation {crps:.0f} req/s (load {cload:.1f});"
                      f" at {rate:.0f} req/s p50 {rows[-1][2]['p50']:.1f} ms p99 "
                      f"{rows[-1][2]['p99']:.1f} ms, {err} errors (load {oload:.1f})")

    head = (f"| scenario | what | workers | saturation req/s (c={args.concurrency}) | p99 ms at "
            "saturation | load avg | offered req/s | requests | p50 ms | p99 ms | achieved "
            "req/s | errors | load avg |")
    lines = [head, "|" + "---|" * 13]
    for name, what, m in rows:
        if m is None:
            lines.append(f"| {name} | {what} |" + " – |" * 11)
            continue
        lines.append(f"| {name} | {what} | {m['workers']} | {m['sat']:.0f} | "
                     f"{m['sat_p99']:.1f} | {m['sat_load']:.1f} | {m['rate']:.0f} | {m['n']} | "
                     f"{m['p50']:.2f} | {m['p99']:.2f} | {m['rps']:.0f} | {m['errors']} | "
                     f"{m['load']:.1f} |")
    table = "\n".join(lines)
    print(table)
    print("\nNo peer tool is compared: no other open-source ad-serving engine installs offline "
          "here; ratios are therefore not shown.")
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
