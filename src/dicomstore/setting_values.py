"""The choices and defaults of settings that the CLI shows in its help: kept apart from
`dicomstore.settings` so that printing help or running a client command loads none of the
server (settings pull in the DICOM layer)."""

from __future__ import annotations

import os
from enum import StrEnum

__all__ = ["DEFAULT_WORKERS", "MAX_DEFAULT_WORKERS", "LogLevel", "default_workers"]

# Server processes sharing the listening socket when none is asked for (Python threads share
# one core at a time): one per core, at most this many; one where storage lives in one process.
MAX_DEFAULT_WORKERS = 4
DEFAULT_WORKERS = f"one per CPU core, at most {MAX_DEFAULT_WORKERS}; 1 with in-memory storage"


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


class LogLevel(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
