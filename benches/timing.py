"""Timing shared by the Python peers of the benchmarks: median of `repeats` runs after one warm-up."""
import statistics
import time


def timed(f, repeats):
    f()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)
