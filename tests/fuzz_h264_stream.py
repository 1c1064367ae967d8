"""Longer fuzz run of the stream layer, meant for a sanitizer build (not collected by pytest):

    cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \\
      -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \\
      -Dpybind11_DIR="$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')" && ninja -C build/asan
    # a copy of python/mvclass with build/asan/_core*.so in it, at $ASAN_PY/mvclass
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \\
      ASAN_OPTIONS=detect_leaks=0 MVCLASS_SHARED_DATA=../shared/data PYTHONPATH=$ASAN_PY:tests \\
      python tests/fuzz_h264_stream.py 25 --no-encoder

--no-encoder leaves out the base stream made by our own encoder (whose transform code trips
UBSan's shift check, unrelated to the reader)."""
import collections
import random
import sys

from conftest import SHARED_DATA

import test_h264_stream as t
from mvclass import _core


def main():
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with_encoder = "--no-encoder" not in sys.argv
    outcomes = collections.Counter()
    for seed in range(seeds):
        for data in t.fuzz_inputs(SHARED_DATA, random.Random(seed), with_encoder=with_encoder):
            try:
                _core._h264_stream_info(data)
                outcomes["ok"] += 1
            except (RuntimeError, ValueError) as e:
                outcomes[type(e).__name__] += 1
    print(_core.__file__, dict(outcomes))


if __name__ == "__main__":
    main()
