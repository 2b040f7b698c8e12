#!/usr/bin/env python3
"""The peer of benches/study_io.rs: pydicom (+ pylibjpeg) on the same files."""
import os
import sys

import pydicom
from timing import timed


def main():
    folder, oct_path, fundus_path = sys.argv[1:4]
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    files = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(".dcm")]
    scan = timed(lambda: [pydicom.dcmread(f, stop_before_pixels=True) for f in files], repeats)
    oct_ = timed(lambda: pydicom.dcmread(oct_path).pixel_array, repeats)
    fundus = timed(lambda: pydicom.dcmread(fundus_path).pixel_array, repeats)
    o = pydicom.dcmread(oct_path)
    fu = pydicom.dcmread(fundus_path)
    print(f"pydicom\tscan_{len(files)}_files_1thread_ms\t{scan * 1e3:.1f}")
    print(f"pydicom\tdecode_oct_{o.Columns}x{o.Rows}x{o.NumberOfFrames}_ms\t{oct_ * 1e3:.2f}")
    print(f"pydicom\tdecode_jpeg_fundus_{fu.Columns}x{fu.Rows}_ms\t{fundus * 1e3:.2f}")


if __name__ == "__main__":
    main()
