"""A real big program to watch: python3 building 3 GiB of 1 MiB byte strings
and a 3M-entry dict, then (optionally) holding it for SECONDS.

    python3 tests/bench/big_python.py [SECONDS]
    build/launcher/mevi-run --sample -- python3 tests/bench/big_python.py 5

Prints "PID built in T s" when the structures are complete, so that a script
can compare mevid's /api/state?pid=PID with /proc/PID/status while it holds.
"""

import os
import sys
import time

t0 = time.time()
blobs = [b"x" * (1 << 20) for _ in range(3072)]
table = {i: str(i) for i in range(3_000_000)}
print(f"{os.getpid()} built in {time.time() - t0:.2f} s", flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
