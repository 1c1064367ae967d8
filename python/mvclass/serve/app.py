"""The ASGI application of ``mvclass serve`` (Starlette).

``POST /classify`` takes a stream as the request body, ``GET /health`` and ``GET /models``
describe the service. Parsing and view building run in a pool of worker threads; the network
calls of concurrent requests for the same model are gathered for ``batch_window`` seconds (up
to ``max_batch_views`` views) and run as one batch in that model's inference thread, on the GPU
when there is one. The event loop only awaits.

Limits: a body over ``max_body`` bytes is refused with 413 (from Content-Length before reading,
else while reading); a request still unanswered after ``timeout`` seconds gets 504; when
``max_concurrent`` requests are already being handled, a further one gets 503 at once (no queue;
``Retry-After: 1``). Clients send only the stream: the server reads no file a request names.
"""
from __future__ import annotations

import asyncio
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .pipeline import BadStream, Pipeline, UnsupportedStream, model_inputs, parse_stream, predict


def default_workers() -> int:
    """Parse threads by default: one per CPU this process may run on, 2 to 16 (the native
    readers release the GIL, so parsing scales with cores; a 2-thread pool left a 16-core GPU
    server parse-bound at one request per forward batch)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 2
    return max(2, min(16, n))


@dataclass
class Limits:
    max_body: int = 64 * 1024 * 1024  # bytes
    timeout: float = 60.0  # seconds per request
    max_concurrent: int = 8  # requests handled at once; more get 503
    workers: int = field(default_factory=default_workers)  # threads that parse streams and build views
    batch_window: float = 0.005  # seconds a batch waits for more requests
    max_batch_views: int = 256  # views per forward pass


class TooLarge(Exception):
    pass


@dataclass
class _Job:
    views: np.ndarray
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)


class Batcher:
    """Dynamic batching for one model: jobs that arrive within ``window`` seconds of the first one
    (up to ``max_views`` views) share a forward pass in the model's own inference thread."""

    def __init__(self, model, window: float, max_views: int):
        self.model, self.window, self.max_views = model, window, max_views
        self.queue: asyncio.Queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"infer-{model.name}")
        self.task = None
        self.batches = self.jobs = 0

    def start(self):
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self):
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, views: np.ndarray):
        """(probabilities, seconds queued, seconds of the batch's forward pass, requests in the batch)."""
        job = _Job(views, asyncio.get_running_loop().create_future())
        await self.queue.put(job)
        return await job.future

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            n = len(batch[0].views)
            deadline = loop.time() + self.window
            while n < self.max_views:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self.queue.get(), left)
                except asyncio.TimeoutError:
                    break
                batch.append(job)
                n += len(job.views)
            batch = [j for j in batch if not j.future.done()]  # requests that timed out meanwhile
            if not batch:
                continue
            start = time.perf_counter()
            try:
                probs = await loop.run_in_executor(self.executor, predict, self.model, [j.views for j in batch],
                                                   self.max_views)
            except Exception as e:  # noqa: BLE001 - handed to every waiting request
                for j in batch:
                    if not j.future.done():
                        j.future.set_exception(e)
                continue
            seconds = time.perf_counter() - start
            self.batches += 1
            self.jobs += len(batch)
            for j, p in zip(batch, probs):
                if not j.future.done():
                    j.future.set_result((p, start - j.queued, seconds, len(batch)))


def _error(status: int, reason: str, **headers):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": reason, "status": status}, status_code=status, headers=headers or None)


async def _read_body(request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            n = -1
        if n > limit:
            raise TooLarge(f"body of {n} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(pipeline: Pipeline, limits: Limits | None = None):
    """The Starlette application serving ``pipeline``."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    limits = limits or Limits()
    state = {"in_flight": 0, "served": 0, "refused": 0, "started": time.time()}
    batchers: dict = {}
    pool = ThreadPoolExecutor(max(1, limits.workers), thread_name_prefix="parse")

    @asynccontextmanager
    async def lifespan(app):
        for name, m in pipeline.models.items():
            batchers[name] = Batcher(m, limits.batch_window, limits.max_batch_views)
            batchers[name].start()
        try:
            yield
        finally:
            for b in batchers.values():
                await b.stop()
            pool.shutdown(wait=False, cancel_futures=True)

    async def health(request):
        return JSONResponse({"status": "ok", "in_flight": state["in_flight"], "served": state["served"],
                             "refused_busy": state["refused"], "uptime_s": round(time.time() - state["started"], 3),
                             "pid": os.getpid()})

    async def models(request):
        return JSONResponse({
            "models": {n: {"frames": m.frames, "size": m.size, "num_classes": int(m.config["num_classes"]),
                           "use_mvd": bool(m.config.get("use_mvd", False)), "flip": bool(m.config.get("flip", True)),
                           "device": str(m.device),
                           "batches": batchers[n].batches if n in batchers else 0,
                           "requests": batchers[n].jobs if n in batchers else 0}
                       for n, m in pipeline.models.items()},
            "classes": pipeline.class_names, "thresholds": pipeline.thresholds.as_json(),
            "volumes": pipeline.volumes,
            "limits": {"max_body_bytes": limits.max_body, "timeout_s": limits.timeout,
                       "max_concurrent": limits.max_concurrent, "batch_window_ms": 1000 * limits.batch_window,
                       "max_batch_views": limits.max_batch_views}})

    async def _classify(body: bytes, requested, k: int, t0: float) -> dict:
        loop = asyncio.get_running_loop()
        parsed = await loop.run_in_executor(pool, parse_stream, body)
        name, how = pipeline.choose(parsed, requested)
        t1 = time.perf_counter()
        views = await loop.run_in_executor(pool, model_inputs, pipeline.models[name], parsed, pipeline.volumes)
        t2 = time.perf_counter()
        probs, queued, forward, batch = await batchers[name].submit(views)
        out = pipeline.describe(parsed, name, how, probs, k, {
            "parse": parsed.seconds, "preprocess": t2 - t1, "queue": queued, "inference": forward,
            "total": time.perf_counter() - t0})
        out["batch_requests"] = batch
        return out

    async def classify(request):
        t0 = time.perf_counter()
        q = request.query_params
        unknown = sorted(set(q) - {"top_k", "classifier"})
        if unknown:
            return _error(400, f"unknown query parameters {unknown}; expected top_k, classifier")
        n_classes = len(pipeline.class_names)
        try:
            k = int(q.get("top_k", min(5, n_classes)))
        except ValueError:
            return _error(400, f"top_k must be an integer, got {q.get('top_k')!r}")
        if not 1 <= k <= n_classes:
            return _error(400, f"top_k must be in 1..{n_classes}, got {k}")
        requested = q.get("classifier")
        if requested is not None and requested not in pipeline.models:
            return _error(400, f"classifier {requested!r} is not loaded (loaded: {sorted(pipeline.models)})")
        if state["in_flight"] >= limits.max_concurrent:
            state["refused"] += 1
            return _error(503, f"busy: {limits.max_concurrent} requests in progress; retry later", **{"Retry-After": "1"})
        state["in_flight"] += 1
        try:
            async def handle():
                body = await _read_body(request, limits.max_body)
                return await _classify(body, requested, k, t0)

            try:
                out = await asyncio.wait_for(handle(), limits.timeout)
            except ClientDisconnect:
                return _error(400, "the client closed the connection before the body was complete")
            except TooLarge as e:
                return _error(413, str(e))
            except UnsupportedStream as e:
                return _error(415, str(e))
            except BadStream as e:
                return _error(422, str(e))
            except asyncio.TimeoutError:
                return _error(504, f"not answered within {limits.timeout:g} s")
            state["served"] += 1
            return JSONResponse(out)
        finally:
            state["in_flight"] -= 1

    routes = [Route("/health", health, methods=["GET"]), Route("/models", models, methods=["GET"]),
              Route("/classify", classify, methods=["POST"])]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pipeline, app.state.limits, app.state.batchers = pipeline, limits, batchers
    return app


def check_limits(limits: Limits) -> Limits:
    for name in ("max_body", "max_concurrent", "workers", "max_batch_views"):
        if int(getattr(limits, name)) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(limits, name)}")
    if not (math.isfinite(limits.timeout) and limits.timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {limits.timeout}")
    if not (math.isfinite(limits.batch_window) and 0 <= limits.batch_window <= 1):
        raise ValueError(f"batch window must be 0..1000 ms, got {1000 * limits.batch_window:g}")
    return limits
