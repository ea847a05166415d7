"""WADO-RS alone, with the server's CPU and page faults per request: for comparing two versions.

    python benchmarks/wado_only.py [--src PATH] [--series 100] [--instances 300] [--rounds 2]

Starts ``dicomstore serve --qido-mode standard`` from the source tree ``--src`` as
``stow_only.py`` does, stores the CT studies of the corpus of ``vs_orthanc.py`` (10 instances per
request, 8 at a time), then in each round sends, one at a time on a keep-alive connection,
``--series`` requests for a random series (25 CT slices as multipart) and ``--instances``
requests for a random instance — the requests of ``vs_orthanc.py``'s WADO series and instance
figures, each answer checked byte for byte. For each it prints the p50, mean and p95 of the
request times, the MB/s of answers over their summed times, the server's CPU per request, and
the page faults per request of the server and of this client (fresh pages are expensive on a
virtual machine: see docs/benchmarks.md). No Orthanc; alternate two versions and compare.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import urllib.parse
from pathlib import Path

from _harness import (
    SOURCE,
    create_store,
    machine,
    percentile,
    process_tree,
    server_from_source,
    spent_per_item,
    thread_times,
    wait_until_quiet,
)
from _workload import Target, corpus, reuse_client_memory, run_requests
from vs_orthanc import FULL, read_kinds, stow_requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", default=SOURCE)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    reuse_client_memory()
    layout, counts = FULL
    data, _ = corpus(layout, Path(tempfile.gettempdir()))
    data.load()
    kinds = {kind.name: kind for kind in read_kinds(data, counts)}
    print(f"{machine()}; source {arguments.src}")
    with server_from_source(arguments.src, "dicomstore-wado-only-") as (server, port, admin):
        root = urllib.parse.urlsplit(create_store(admin, server.url)).path
        target = Target("dicomstore", port, root)
        stored = run_requests(target, stow_requests(data, data.ct_studies(), 10), 8)
        if stored.failures:
            print(f"storing the corpus failed: {stored.errors()[:3]}", file=sys.stderr)
            return 1
        rng = random.Random(1)
        for _ in range(arguments.rounds):
            for name, count in (
                ("WADO series", arguments.series),
                ("WADO instance", arguments.instances),
            ):
                kind = kinds[name]
                requests = [kind.make(rng) for _ in range(count)]
                warmup = [kind.make(rng) for _ in range(counts.warmup)]
                wait_until_quiet(process_tree(server.pid))
                before = thread_times(server.pid)
                client_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                run = run_requests(target, requests, 1, warmup)
                client_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - client_faults
                spent = spent_per_item(before, thread_times(server.pid), count)
                cpu = spent["loops"] + spent["threads"]
                times = [sample.seconds * 1e3 for sample in run.samples]
                size = sum(sample.size for sample in run.samples)
                print(
                    f"{name}: p50 {percentile(times, 0.5):.2f} ms, mean "
                    f"{statistics.mean(times):.2f}, p95 {percentile(times, 0.95):.2f}; "
                    f"{size / 1e3 / sum(times):.0f} MB/s; server CPU {cpu * 1e3:.2f} "
                    f"ms/request; page faults per request: server "
                    f"{spent['faults']:.0f}, client "
                    f"{client_faults / count:.0f}; {run.failures} failures",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
