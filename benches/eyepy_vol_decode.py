#!/usr/bin/env python3
"""The peer of benches/vol_decode.rs: eyepy's Heyex .vol reader on the same files, the B-scans
read into memory (as a numpy volume) each time. Median of 9 after one warm-up.
Usage: eyepy_vol_decode.py file.vol [...]"""
import statistics
import sys
import time

import eyepy as ep


def once(path):
    volume = ep.import_heyex_vol(path)
    return volume.data.shape


def main():
    for path in sys.argv[1:]:
        once(path)
        samples = []
        for _ in range(9):
            start = time.perf_counter()
            shape = once(path)
            samples.append(time.perf_counter() - start)
        print(f"eyepy\t{path.rsplit('/', 1)[-1]}\tbscans\t{shape[0]}\tdecode_ms\t{statistics.median(samples) * 1e3:.2f}", flush=True)


if __name__ == "__main__":
    main()
