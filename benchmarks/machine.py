"""What the benchmarks say about the machine they ran on: a claim measured on one CPU is
not a fact about another, so every table is headed by the CPU, the BLAS and the allocator.

Shared by the benchmark scripts of this folder (run as ``python benchmarks/<name>.py``,
which puts this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import tracemalloc
from typing import Any

CACHED_ALLOCATOR = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824"
"""A tuned glibc malloc that keeps freed memory for reuse (as a caching allocator does):
shown only on extra rows labelled ``+cached``, never as a headline."""


def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), or what the platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas() -> str:
    """numpy's BLAS library and version (threadpoolctl's report, else numpy's config)."""
    try:
        from threadpoolctl import threadpool_info

        found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if found:
            return ", ".join(f"{i['internal_api']} {i.get('version')}" for i in found)
    except ImportError:
        pass
    import numpy as np

    config: Any = np.show_config(mode="dicts")
    info = config.get("Build Dependencies", {}).get("blas", {})
    return f"{info.get('name', 'unknown')} {info.get('version', '')}".strip()


def allocator(tunables: str | None = None) -> str:
    """The C library and the malloc settings a worker runs with."""
    name, version = platform.libc_ver()
    library = f"{name} {version}".strip() or "unknown C library"
    return f"{library} malloc, {'GLIBC_TUNABLES=' + tunables if tunables else 'default settings'}"


def header(threads: int) -> list[str]:
    """The lines that head a benchmark's table: where the numbers come from."""
    return [
        f"CPU: {cpu_model()} ({os.cpu_count()} logical cores); {threads} thread(s) per worker",
        f"numpy BLAS: {blas()}",
        f"Allocator (headline rows): {allocator()}",
    ]


def peak_bytes(step: Any) -> int:
    """The peak of memory allocated during one call of ``step()`` above what was live
    before it, as tracemalloc sees it (numpy reports its arrays' data; PyTorch's
    allocator is not seen)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
