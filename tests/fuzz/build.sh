#!/usr/bin/env bash
# Builds the coverage-guided fuzzers of the stream readers with clang's libFuzzer, ASan and UBSan
# into build/fuzz/ (Debian: apt-get install clang). Usage: tests/fuzz/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CXX=${CXX:-clang++}
mkdir -p build/fuzz
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Icpp)
srcs=(cpp/common/*.cpp cpp/jm/*.cpp cpp/hm/*.cpp)  # encoder.cpp names both encoders
"$CXX" "${flags[@]}" tests/fuzz/h264_reader_fuzzer.cpp "${srcs[@]}" -o build/fuzz/h264_reader_fuzzer
echo "built build/fuzz/h264_reader_fuzzer"
