"""How this process's C heap treats large freed blocks: kept for reuse, not handed back.

glibc's malloc gives a freed block above 128 KiB back to the kernel at once, and takes a new
one as fresh zeroed pages: every half-megabyte instance body (a CT slice) then costs some 130
page faults per copy, and far more on a virtual machine whose host supplies each fresh page
anew (3–12 µs a page measured on the benchmark machine). Served from the heap instead, the same
pages are used again and again.
"""

from __future__ import annotations

import ctypes

__all__ = ["reuse_freed_memory"]

_MIB = 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def reuse_freed_memory(*, largest_block: int = 8 * _MIB, kept: int = 64 * _MIB) -> bool:
    """Serve blocks up to ``largest_block`` bytes from the heap, and keep up to ``kept`` bytes
    of free heap before trimming it; for this process and the ones it forks. False where the C
    library is not glibc (nothing changes)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, largest_block)) and bool(
        mallopt(_M_TRIM_THRESHOLD, kept)
    )
