#!/usr/bin/env python3
"""Vendors pydicom's DICOM test files and records what pydicom (+ pylibjpeg, pyjpegls)
decodes from each, so the Rust tests can compare without Python.

Run by tests/reference/make_references.sh; its outputs are committed:
  tests/data/pydicom/*.dcm, dicomdirtests/  (copied from the pydicom wheel, MIT licence)
  tests/data/pydicom/reference.json         (shape, min/max/mean and sampled pixel values)

pydicom's `pixel_array` converts YBR to RGB (as Fovea does) and leaves MONOCHROME1 and
palette indices as stored (as Fovea's decoded samples do).
"""
import json
import os
import shutil
import sys

import numpy as np
import pydicom
from pydicom.pixels import pixel_array

SRC = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
OUT = os.path.join(os.path.dirname(__file__), "..", "data", "pydicom")
GRID = 7  # sample a GRID x GRID lattice of pixels on the first and last frame


def sample(arr, ds):
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    spp = int(ds.SamplesPerPixel)
    a = arr.reshape((frames, int(ds.Rows), int(ds.Columns), spp))
    rows = [int(round(i * (a.shape[1] - 1) / (GRID - 1))) for i in range(GRID)]
    cols = [int(round(i * (a.shape[2] - 1) / (GRID - 1))) for i in range(GRID)]
    out = []
    for f in sorted({0, frames - 1}):
        for r in rows:
            for c in cols:
                for s in range(spp):
                    out.append({"frame": f, "row": r, "column": c, "sample": s, "value": float(a[f, r, c, s])})
    return a, out


def main():
    os.makedirs(OUT, exist_ok=True)
    refs = {}
    for name in sorted(os.listdir(SRC)):
        path = os.path.join(SRC, name)
        if not name.endswith(".dcm"):
            continue
        shutil.copy(path, os.path.join(OUT, name))
        entry = {}
        try:
            ds = pydicom.dcmread(path)
            if "PixelData" not in ds:
                entry = {"decodes": False, "reason": "no Pixel Data"}
            else:
                arr = pixel_array(ds)
                a, points = sample(arr, ds)
                entry = {
                    "decodes": True,
                    "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
                    "photometric_interpretation": str(ds.PhotometricInterpretation),
                    "frames": int(a.shape[0]),
                    "rows": int(a.shape[1]),
                    "columns": int(a.shape[2]),
                    "samples_per_pixel": int(a.shape[3]),
                    "bits_allocated": int(ds.BitsAllocated),
                    "lossy": str(ds.file_meta.TransferSyntaxUID) in LOSSY,
                    "min": float(a.min()),
                    "max": float(a.max()),
                    "mean": float(a.astype(np.float64).mean()),
                    "points": points,
                }
        except Exception as e:  # noqa: BLE001 - every failure is a recorded outcome
            entry = {"decodes": False, "reason": f"{type(e).__name__}: {e}"[:300]}
        refs[name] = entry
    shutil.copytree(os.path.join(SRC, "dicomdirtests"), os.path.join(OUT, "dicomdirtests"), dirs_exist_ok=True)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"pydicom": pydicom.__version__, "files": refs}, f, indent=1, sort_keys=True)
    with open(os.path.join(OUT, "SOURCE.md"), "w") as f:
        f.write(
            "These files are copied unchanged from the pydicom wheel "
            f"(pydicom {pydicom.__version__}, `pydicom/data/test_files`, MIT licence, "
            "Copyright (c) 2008-2020 Darcy Mason and pydicom contributors).\n"
            "`reference.json` is what pydicom + pylibjpeg decode from them; it is written by "
            "`tests/reference/pydicom_reference.py`.\n"
        )
    decoded = sum(1 for e in refs.values() if e["decodes"])
    print(f"{len(refs)} files, {decoded} decoded by pydicom", file=sys.stderr)


LOSSY = {
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.203",
}

if __name__ == "__main__":
    main()
