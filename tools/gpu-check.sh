#!/usr/bin/env bash
# GPU truth on a lent NVIDIA machine (an H200 through the device tool), in three steps:
#
#   bash tools/gpu-check.sh prepare        here (CPU): the pinned llama.cpp source (from the same verified
#                                          llama-cpp-python sdist tools/build-llama-server.sh builds), trimmed,
#                                          and the tiny GGUF, into build/gpu-check/ (a few MiB: carried to the device)
#   bash tools/gpu-check.sh run [OUT]      on the GPU machine, bounded to 12 minutes: CUDA build of llama-server
#                                          with CUDA architectures restricted to the card's, the tiny GGUF served
#                                          with every layer on the GPU, nvidia-smi as llmfleet's NVIDIA fact reads
#                                          it, the server's offload and VRAM, 20 timed chat requests; raw results
#                                          in OUT (default build/gpu-check/out; the device tool's $OUT)
#   bash tools/gpu-check.sh report DIR     here: llmfleet's NVIDIA facts (driver branch, GPU count, VRAM) and its
#                                          VRAM rule against the recorded real numbers -> benchmarks/RESULTS-gpu.md
#
# Nothing here fakes a GPU: `run` without nvidia-smi or nvcc records why and exits 3.
set -euo pipefail
TOOL=gpu-check
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
WORK="$REPO/build/gpu-check"
PORT="${GPU_CHECK_PORT:-18080}"
DEADLINE=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-720} ))   # 12 minutes for the whole run

log() { printf '[%s] %s\n' "$TOOL" "$*" >&2; }
left() { echo $(( DEADLINE - $(date +%s) )); }

prepare() {
    source "$HERE/lib.sh"
    local version=0.3.36 sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
    local sdist="$CACHE/downloads/llama_cpp_python-$version.tar.gz"
    fetch_sdist llama-cpp-python "$version" "$sha" "$sdist"
    mkdir -p "$WORK"
    # Only what builds llama-server: no models, docs, tests, examples, the web UI sources or other backends' kernels.
    tar -xzf "$sdist" -C "$WORK" --strip-components=3 \
        --exclude='vendor/llama.cpp/models' --exclude='vendor/llama.cpp/docs' --exclude='vendor/llama.cpp/tests' \
        --exclude='vendor/llama.cpp/examples' --exclude='vendor/llama.cpp/benches' \
        --exclude='*/tools/server/webui/*' --exclude='*/ggml-vulkan/*' --exclude='*/ggml-sycl/*' \
        --exclude='*/ggml-metal/*' --exclude='*/ggml-opencl/*' --exclude='*/ggml-cann/*' --exclude='*/ggml-musa/*' \
        "llama_cpp_python-$version/vendor/llama.cpp"
    rm -rf "$WORK/src-llama.cpp" && mkdir -p "$WORK/src-llama.cpp"
    find "$WORK" -mindepth 1 -maxdepth 1 ! -name src-llama.cpp ! -name out ! -name tiny-chatml.gguf ! -name SOURCE \
        -exec mv -t "$WORK/src-llama.cpp" {} +
    printf 'llama-cpp-python==%s sha256=%s (vendor/llama.cpp, trimmed)\n' "$version" "$sha" >"$WORK/SOURCE"
    "${GPU_CHECK_PYTHON:-$REPO/.venv/bin/python}" -c "import sys; from fleetlab.tiny_gguf import write_tiny_gguf; write_tiny_gguf(sys.argv[1], seed=0, template='chatml')" \
        "$WORK/tiny-chatml.gguf"
    log "prepared $WORK ($(du -sh "$WORK" | cut -f1)): carry build/gpu-check to the device, then: bash tools/gpu-check.sh run \$OUT"
}

cuda_arch() {  # "9.0" -> "90" (compute capability of the first GPU)
    local cap="$1"
    [[ "$cap" =~ ^([0-9]+)\.([0-9]+)$ ]] || { echo "unknown compute capability '$cap'" >&2; return 1; }
    echo "${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
}

run() {
    local out="${1:-$WORK/out}"
    mkdir -p "$out"
    local status="$out/status.txt"
    : >"$status"
    if ! command -v nvidia-smi >/dev/null; then echo "no nvidia-smi: not a GPU machine" | tee -a "$status"; exit 3; fi
    # Exactly the query of llmfleet.deploy.facts.nvidia.NvidiaSmi.
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader,nounits >"$out/nvidia-smi.csv"
    nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
    local cap arch nvcc
    cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' ')"
    arch="$(cuda_arch "$cap")"
    echo "compute_cap=$cap cuda_arch=$arch" >>"$status"
    nvcc="$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)"
    if [[ -z "$nvcc" ]]; then echo "no nvcc (CUDA toolkit): cannot build the CUDA llama-server" | tee -a "$status"; exit 3; fi
    "$nvcc" --version >"$out/nvcc.txt"
    local src="$WORK/src-llama.cpp" build="$WORK/build-cuda"
    [[ -f "$src/CMakeLists.txt" ]] || { echo "no prepared source in $src: run prepare here first" | tee -a "$status"; exit 2; }
    local t0; t0=$(date +%s)
    timeout "$(( $(left) - 120 ))" cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF \
        -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
        -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCMAKE_CUDA_COMPILER="$nvcc" >"$out/cmake-configure.log" 2>&1
    timeout "$(( $(left) - 90 ))" cmake --build "$build" --target llama-server -j"$(nproc)" >"$out/cmake-build.log" 2>&1
    echo "build_seconds=$(( $(date +%s) - t0 ))" >>"$status"
    local bin="$build/bin/llama-server"
    "$bin" --version >"$out/llama-server-version.txt" 2>&1 || true
    "$bin" -m "$WORK/tiny-chatml.gguf" --host 127.0.0.1 --port "$PORT" -ngl 999 -c 2048 --parallel 2 --jinja >"$out/server.log" 2>&1 &
    local pid=$!
    trap 'kill $pid 2>/dev/null || true' EXIT
    local ok=""
    for _ in $(seq 1 120); do
        if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.5
    done
    [[ -n "$ok" ]] || { echo "llama-server did not answer /health in 60 s" | tee -a "$status"; exit 1; }
    grep -iE 'offload|CUDA0|using device' "$out/server.log" >"$out/offload.txt" || true
    nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits >"$out/compute-apps.csv" || true
    curl -fsS "http://127.0.0.1:$PORT/props" >"$out/props.json" || true
    : >"$out/chat-seconds.txt"
    for _ in $(seq 1 20); do
        curl -fsS -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' \
            -d '{"messages":[{"role":"user","content":"hi"}],"max_tokens":16}' \
            "http://127.0.0.1:$PORT/v1/chat/completions" >>"$out/chat-seconds.txt"
    done
    echo "served=yes port=$PORT" >>"$status"
    # `llmfleet check --direct` needs the gateway in front (LiteLLM) and llmfleet's venv on the device;
    # neither fits the device tool's 64 MiB carry, so the direct probes above (/health, /props, timed
    # chat requests straight at the server) stand in, and the report says so.
    echo "llmfleet check --direct: not run (no LiteLLM gateway / llmfleet venv on the device)" >>"$status"
    log "results in $out"
}

case "${1:-}" in
    prepare) prepare ;;
    run) shift; run "$@" ;;
    report) shift; "${GPU_CHECK_PYTHON:-$REPO/.venv/bin/python}" -m fleetlab.gpucheck report "$@" ;;
    cuda-arch) shift; cuda_arch "$1" ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
esac
