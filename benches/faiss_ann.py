"""FAISS beside Fovea's case-library search, on the vectors `library_ann` wrote (same run).

Flat inner product (exact; vectors are normalised, so it is cosine) and HNSW (M 16,
efConstruction 128, inner product) with one query at a time, as the viewer asks; build on all
cores. Usage: python faiss_ann.py OUT 100000,1000000
"""
import os
import sys
import time

import faiss
import numpy as np

DIM, K = 512, 10


def percentile(ms, p):
    ms = sorted(ms)
    return ms[round((len(ms) - 1) * p)]


def main():
    out, sizes = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    threads = os.cpu_count()
    faiss.omp_set_num_threads(threads)
    queries = np.fromfile(os.path.join(out, "queries.f32"), dtype="<f4").reshape(-1, DIM)
    print(f"FAISS {faiss.__version__} on {threads} threads; {len(queries)} queries, top-{K}")
    print("| vectors | search | build s | file MB | ef | p50 ms | p99 ms | recall@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        data = np.fromfile(os.path.join(out, f"vectors_{n}.f32"), dtype="<f4").reshape(n, DIM)
        truth = np.fromfile(os.path.join(out, f"truth_{n}.u64"), dtype="<u8").reshape(-1, K)

        def run(index, label, build_s, file_mb, ef):
            ms, found = [], 0
            for qi, q in enumerate(queries):
                start = time.perf_counter()
                _, ids = index.search(q[None, :], K)
                ms.append((time.perf_counter() - start) * 1e3)
                found += len(set(ids[0].tolist()) & set(truth[qi].tolist()))
            print(
                f"| {n} | {label} | {build_s} | {file_mb} | {ef} | {percentile(ms, 0.5):.3f} "
                f"| {percentile(ms, 0.99):.3f} | {found / (len(queries) * K):.3f} |",
                flush=True,
            )

        flat = faiss.IndexFlatIP(DIM)
        flat.add(data)
        faiss.omp_set_num_threads(1)
        run(flat, "exact (FAISS flat, 1 thread)", "–", f"{n * DIM * 4 / 1e6:.0f}", "–")
        faiss.omp_set_num_threads(threads)
        del flat
        hnsw = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 128
        start = time.perf_counter()
        hnsw.add(data)
        build_s = time.perf_counter() - start
        path = os.path.join(out, f"faiss_{n}.index")
        faiss.write_index(hnsw, path)
        file_mb = os.path.getsize(path) / 1e6
        os.remove(path)
        for ef in (32, 64, 128, 256):
            hnsw.hnsw.efSearch = ef
            run(hnsw, "HNSW (FAISS, M 16, efC 128)", f"{build_s:.1f}", f"{file_mb:.0f}", ef)


if __name__ == "__main__":
    main()
