#!/usr/bin/env python3
"""The statistics overhead.py reports with its ratios (median_ci, paired_ratios,
fmt_ratio): what the README's claims about targets rest on."""

import importlib.util
import math
import os
import random
import sys
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("overhead", os.path.join(HERE, "overhead.py"))
overhead = importlib.util.module_from_spec(spec)
spec.loader.exec_module(overhead)


class MedianCI(unittest.TestCase):
    def test_order_statistics(self):
        # The k of each n checked by hand: coverage 1 - 2 P(Bin(n, 1/2) < k).
        self.assertIsNone(overhead.median_ci(range(5)))  # 1 - 2/32 = 0.9375 < 0.95
        self.assertEqual(overhead.median_ci(range(1, 7)), (1, 6))  # 0.969
        self.assertEqual(overhead.median_ci(range(1, 10)), (2, 8))  # k=2: 0.961
        self.assertEqual(overhead.median_ci(range(1, 12)), (2, 10))  # k=3: 0.935 < 0.95
        self.assertEqual(overhead.median_ci(range(1, 16)), (4, 12))  # k=4: 0.965

    def test_unsorted_input(self):
        self.assertEqual(overhead.median_ci([9, 1, 5, 3, 7, 2, 8, 4, 6]), (2, 8))

    def test_coverage_holds(self):
        # The interval from 11 draws of a skewed distribution holds its true
        # median (ln 2 for Exp(1)) at least 95 % of the time.
        rng = random.Random(17)
        hits = 0
        trials = 4000
        for _ in range(trials):
            lo, hi = overhead.median_ci([rng.expovariate(1.0) for _ in range(11)])
            hits += lo <= math.log(2) <= hi
        self.assertGreaterEqual(hits / trials, 0.95)


class Ratios(unittest.TestCase):
    def test_pairs_by_round(self):
        times = {"native": [1.0, 2.0, 4.0], "ebpf": [1.1, 2.2, 4.4]}
        # Each round against its own native run: a drift of 4x cancels.
        self.assertEqual([round(r, 6) for r in overhead.paired_ratios(times, "ebpf")], [1.1, 1.1, 1.1])

    def test_format(self):
        self.assertEqual(overhead.fmt_ratio([1.1, 1.2, 1.0, 1.05, 1.15, 1.3, 0.9]), "1.10x [0.90-1.30]")
        self.assertEqual(overhead.fmt_ratio([1.0, 1.2]), "1.10x [n<6]")


class Settle(unittest.TestCase):
    """settle() waits, off the clock, for the daemon on the run's socket to go
    quiet (its reload of programs after a launcher's end)."""

    def test_waits_for_the_daemon_on_the_socket(self):
        import subprocess
        import tempfile
        import time

        with tempfile.TemporaryDirectory() as d:
            fake = os.path.join(d, "mevid")  # argv[0] ends with mevid
            os.symlink(sys.executable, fake)
            sock = os.path.join(d, "m.sock")
            busy = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 0.4: pass\ntime.sleep(30)"
            p = subprocess.Popen([fake, "-c", busy, "--socket", sock])
            try:
                time.sleep(0.05)
                first = overhead.daemon_cpu_ns(sock)
                self.assertGreater(first, 0)
                self.assertEqual(overhead.daemon_cpu_ns(os.path.join(d, "other.sock")), 0)
                t0 = time.monotonic()
                overhead.settle(["mevi-run", "--socket", sock, "--", "true"])
                waited = time.monotonic() - t0
                # Not before the spin ended (0.35 s after this point), and not
                # the whole 5 s timeout once it had.
                self.assertGreaterEqual(waited, 0.3)
                self.assertLess(waited, 3.0)
                self.assertGreater(overhead.daemon_cpu_ns(sock), first)
            finally:
                p.kill()
                p.wait()


if __name__ == "__main__":
    unittest.main()
