"""STOW-RS alone, with where the server's CPU goes: for comparing two versions of the code.

    python benchmarks/stow_only.py [--src PATH] [--configs 1/1,8/1,1/10,8/10] [--instances 500]
                                   [--rounds 1]

Starts ``dicomstore serve --qido-mode standard`` (harness: free loopback port, temporary folder,
SQLite, the default server processes) from the source tree ``--src`` (``src`` of this checkout
by default: point it at an exported older commit to compare), then, for each configuration
``CONCURRENCY/PER_REQUEST``, creates a store and sends it ``--instances`` CT slices of the
corpus of ``vs_orthanc.py`` (generated into /tmp if missing) over keep-alive connections. For
each it prints instances/s, the server's CPU time per instance (every thread of every process,
from /proc), that time split between the event loops (each process's main thread) and the
other threads, the share spent in the kernel, and the context switches per instance. No Orthanc: see
``vs_orthanc.py`` for the comparison; on a shared machine, alternate the two versions and
compare CPU per instance rather than single throughput figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from _harness import (
    SOURCE,
    create_store,
    machine,
    process_tree,
    server_from_source,
    spent_per_item,
    thread_times,
    wait_until_quiet,
)
from _workload import Series, Study, Target, corpus, reuse_client_memory, run_requests
from vs_orthanc import FULL, stow_requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", default=SOURCE)
    parser.add_argument("--configs", default="1/1,8/1,1/10,8/10")
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=1)
    arguments = parser.parse_args()
    reuse_client_memory()
    layout, _ = FULL
    data, _ = corpus(layout, Path(tempfile.gettempdir()))
    instances = [item for study in data.ct_studies() for item in study.instances()]
    count = min(arguments.instances, len(instances))
    print(f"{machine()}; source {arguments.src}; {count} instances per configuration")
    with server_from_source(arguments.src, "dicomstore-stow-only-") as (server, port, admin):
        configs = arguments.configs.split(",")
        for round_ in range(arguments.rounds):
            for position, config in enumerate(configs):
                concurrency, per_request = map(int, config.split("/"))
                start = (round_ * len(configs) + position) * count % (len(instances) - count + 1)
                chosen = instances[start : start + count]
                study = Study("stow-only", "", "", [Series("stow-only", "CT", chosen)])
                requests = stow_requests(data, [study], per_request)
                root = urllib.parse.urlsplit(create_store(admin, server.url)).path
                wait_until_quiet(process_tree(server.pid))
                before = thread_times(server.pid)
                started = time.perf_counter()
                run = run_requests(Target("dicomstore", port, root), requests, concurrency)
                wall = time.perf_counter() - started
                after = thread_times(server.pid)
                spent = spent_per_item(before, after, count)
                cpu = spent["loops"] + spent["threads"]
                kernel = spent["kernel"] / max(spent["user"] + spent["kernel"], 1e-9)
                print(
                    f"c{concurrency}, {per_request} per request: {count / wall:6.1f} inst/s, "
                    f"server CPU {cpu * 1e3:.2f} ms/inst (event loops "
                    f"{spent['loops'] * 1e3:.2f}, other threads {spent['threads'] * 1e3:.2f}; "
                    f"{kernel:.0%} in the kernel), {spent['switches']:.0f} context "
                    f"switches/inst, {run.failures} failures",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
