"""Shared pieces of the benchmarks: machine facts, peak memory of a process tree, the report."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(os.environ.get("INTENTFLOW_BENCH_DIR", "bench-results"))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def log(message: str) -> None:
    """Progress for the person watching (stderr, so stdout keeps the JSON line)."""
    print(message, file=sys.stderr, flush=True)


class PeakRss:
    """Samples the summed RSS of a process and its children until stopped."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for proc in procs:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        total += proc.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.NoSuchProcess:
                return
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(
    cmd: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run a command; returns its result, wall seconds and peak RSS of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakRss(proc.pid) as rss:
        out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), elapsed, rss.peak


def bench_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a measured child: this one without its intentflow settings, with
    ``data_dir`` as the data dir, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTFLOW_")}
    env.update({"INTENTFLOW_DATA_DIR": str(data_dir), **extra})
    return env


def run_json(cmd: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float, int]:
    """Run a measured command that prints a JSON object on its last line: the object, wall
    seconds and peak RSS bytes. A failed command raises with the end of its stderr."""
    result, wall, peak = run_measured(cmd, env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed, wall, peak


def report(name: str, summary: list[str], figures: dict[str, Any]) -> None:
    """Print the human summary, save the result, and print one JSON object as the last line."""
    for line in summary:
        print(line)
    result = {"name": name, "machine": machine(), **figures}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


def wait_json(
    url: str, seconds: float, ready: Any, *, every_s: float = 0.05, timeout_s: float = 2
) -> Any:
    """The JSON of ``url`` once it answers 200 and ``ready(json)`` holds; raises after
    ``seconds``."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            reply = httpx.get(url, timeout=timeout_s)
            if reply.status_code == 200 and ready(reply.json()):
                return reply.json()
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} was not ready in {seconds:.0f} s")
        time.sleep(every_s)


def start_serve(log_path: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``intentflow serve`` on ``port`` in its own process, its output into ``log_path``."""
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "intentflow.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
