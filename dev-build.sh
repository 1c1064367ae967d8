#!/usr/bin/env bash
# Incremental developer build: compiles mvclass._core into build/dev and drops it into
# python/mvclass so `PYTHONPATH=python` (or an editable path) imports the fresh module.
set -euo pipefail
cd "$(dirname "$0")"
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} \
  -Dpybind11_DIR="$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
  -DPython_EXECUTABLE="$(command -v python)" >/dev/null
ninja -C build/dev "$@"
# replace atomically: running interpreters keep the old inode mapped
for so in build/dev/_core*.so; do cp -f "$so" "python/mvclass/.$(basename "$so").tmp"; mv -f "python/mvclass/.$(basename "$so").tmp" "python/mvclass/$(basename "$so")"; done
