"""Large freed blocks are reused by the process instead of being faulted in anew."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Allocates a 40 MiB buffer (above glibc's own 32 MiB limit for serving blocks from the heap)
# ten times, writing every page, and prints the page faults of the last nine.
_ALLOCATE = """
import resource, sys
from dicomstore.process_memory import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory(largest_block=64 << 20, kept=128 << 20)
faults = 0
for attempt in range(10):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = bytearray(40 << 20)
    block[::4096] = b"\\1" * len(range(0, 40 << 20, 4096))
    del block
    if attempt:
        faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(faults)
"""
_PAGES = 9 * (40 << 20) // 4096


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _ALLOCATE, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_blocks_are_reused_not_faulted_anew() -> None:
    assert _faults("default") > _PAGES // 2  # each block fresh pages: what the call avoids
    assert _faults("reuse") < _PAGES // 20
