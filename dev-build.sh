#!/usr/bin/env bash
# Incremental developer build: compiles mvclass._core into build/dev and drops it into
# python/mvclass so `PYTHONPATH=python` (or an editable path) imports the fresh module.
# MVCLASS_SANITIZE=1: ASan + UBSan build in build/asan instead, importable with
# PYTHONPATH=build/asan/python (a copy of the Python package next to the instrumented module;
# python needs LD_PRELOAD of libasan, see .ci/sanitize.sh). python/mvclass is left untouched.
set -euo pipefail
cd "$(dirname "$0")"
if [ "${MVCLASS_SANITIZE:-0}" != "0" ]; then build=build/asan; san=ON; else build=build/dev; san=OFF; fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} -DMVCLASS_SANITIZE=$san \
  -Dpybind11_DIR="$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
  -DPython_EXECUTABLE="$(command -v python)" >/dev/null
ninja -C "$build" "$@"
if [ "$san" = ON ]; then
  dest=$build/python/mvclass
  rm -rf "$build/python" && mkdir -p "$build/python" && cp -r python/mvclass "$build/python/"
  find "$dest" \( -name '_core*.so' -o -name '__pycache__' \) -prune -exec rm -rf {} +
else
  dest=python/mvclass
fi
# replace atomically: running interpreters keep the old inode mapped
for so in "$build"/_core*.so; do cp -f "$so" "$dest/.$(basename "$so").tmp"; mv -f "$dest/.$(basename "$so").tmp" "$dest/$(basename "$so")"; done
