#!/usr/bin/env bash
# ASan + UBSan check of the native core: builds mvclass._core instrumented (build/asan, -O1, no LTO;
# a few minutes on 2 cores) and runs the fast native tests against it (encoders, and the stream
# readers with their fuzz tests, streamed too), AVX2 kernels on and off.
# Any sanitizer finding aborts the interpreter (UBSan halt_on_error, ASan by default) and fails
# the run. Usage: .ci/sanitize.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cmake >/dev/null && command -v ninja >/dev/null && python -c "import pybind11" 2>/dev/null \
  || python -m pip install -q cmake ninja "pybind11>=2.12"
MVCLASS_SANITIZE=1 ./dev-build.sh
libasan=$(${CXX:-c++} -print-file-name=libasan.so)
libstdcxx=$(${CXX:-c++} -print-file-name=libstdc++.so.6)
for lib in "$libasan" "$libstdcxx"; do
  if [ ! -e "$lib" ]; then echo "sanitize: $lib not found (${CXX:-c++} -print-file-name)" >&2; exit 1; fi
done
# The interpreter is not instrumented: preload the ASan runtime, and libstdc++ with it (else ASan's
# __cxa_throw interceptor finds no real one and every C++ exception aborts); skip leak checks
# (CPython's own allocations at exit are not ours). Child processes (tests that spawn python)
# inherit all of it. --capture=sys leaves fd 2 alone, so a sanitizer report reaches the log.
export LD_PRELOAD="$libasan $libstdcxx"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export PYTHONPATH=build/asan/python
tests=(tests/test_kernels.py tests/test_encoders.py tests/test_h264.py tests/test_hevc.py tests/test_h264_mvs.py
       tests/test_grid.py tests/test_api.py tests/test_io.py
       tests/test_h264_stream.py tests/test_h264_cabac.py tests/test_h264_cabac_encoder.py tests/test_reader_h264.py
       tests/test_reader_hevc.py tests/test_stream.py)
python -c "import mvclass._core as c, sys; sys.exit(0 if 'build/asan' in c.__file__ else 'sanitize: wrong _core: ' + c.__file__)"
echo "sanitize: AVX2 kernels (where the CPU has them)"
python -m pytest -q -p no:cacheprovider --capture=sys -x "${tests[@]}" "$@"
echo "sanitize: portable kernels (MVCLASS_NO_AVX2=1)"
MVCLASS_NO_AVX2=1 python -m pytest -q -p no:cacheprovider --capture=sys -x tests/test_encoders.py tests/test_h264.py tests/test_hevc.py "$@"
echo "sanitize: no findings"
