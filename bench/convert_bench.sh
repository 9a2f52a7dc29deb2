#!/usr/bin/env bash
# Converter benchmark (issue 7): generates a llama-shaped bf16 model with
# tests/convert/make_hf_model.py and times `edgequant convert` to Q4_K_M and
# Q8_0: wall time, MB/s (source bf16 bytes / wall), peak RSS (GNU time), and
# the memory bound 2 × largest tensor in f32 + 256 MiB.
#
# usage: bench/convert_bench.sh EDGEQUANT_BINARY [WORK_DIR] [SIZE]
#   SIZE: 1b (default: 20 layers, hidden 2048, ff 5632 ≈ 1.03e9 parameters),
#         400m (8 layers, same shapes ≈ 4.1e8) or small (4 layers, hidden 1024,
#         ff 2816 ≈ 5e7, for a quick check)
#   THREADS (env): quantization threads (default 0 = all cores)
set -euo pipefail
bin=${1:?edgequant binary}
work=${2:-/tmp/eq_convert_bench}
size=${3:-1b}
threads=${THREADS:-0}
here=$(cd "$(dirname "$0")/.." && pwd)
case "$size" in
  1b) args=(--layers 20 --hidden 2048 --heads 16 --kv-heads 16 --ff 5632) ;;
  400m) args=(--layers 8 --hidden 2048 --heads 16 --kv-heads 16 --ff 5632) ;;
  small) args=(--layers 4 --hidden 1024 --heads 8 --kv-heads 8 --ff 2816) ;;
  *) echo "unknown SIZE $size" >&2; exit 2 ;;
esac
mkdir -p "$work"
model="$work/model-$size"
if [ ! -f "$model/config.json" ]; then
  /usr/bin/python3 "$here/tests/convert/make_hf_model.py" --out "$model" --dtype bf16 --shards 2 --vocab 320 "${args[@]}" >/dev/null
fi
src_bytes=$(cat "$model"/*.safetensors | wc -c)
# Largest tensor (elements) from the safetensors headers.
largest=$(/usr/bin/python3 - "$model" <<'EOF'
import json, os, struct, sys
m = 0
for f in os.listdir(sys.argv[1]):
    if f.endswith(".safetensors"):
        with open(os.path.join(sys.argv[1], f), "rb") as fh:
            h = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        for k, v in h.items():
            if k != "__metadata__":
                n = 1
                for d in v["shape"]:
                    n *= d
                m = max(m, n)
print(m)
EOF
)
bound_kib=$(( (2 * largest * 4 + 256 * 1024 * 1024) / 1024 ))
echo "model: $model ($src_bytes bytes bf16), largest tensor $largest elements, RSS bound $((bound_kib / 1024)) MiB, threads $threads"
for type in Q4_K_M Q8_0; do
  out="$work/out-$size-$type.gguf"
  rm -f "$out"
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$bin" convert "$model" -o "$out" --type "$type" --threads "$threads" >/dev/null
  read -r wall rss_kib < "$work/time.txt"
  mbps=$(/usr/bin/python3 -c "print(f'{$src_bytes / 1e6 / max($wall, 1e-9):.1f}')")
  verdict=$([ "$rss_kib" -le "$bound_kib" ] && echo "within bound" || echo "OVER BOUND")
  echo "$type: wall ${wall}s, ${mbps} MB/s (bf16 in), peak RSS $((rss_kib / 1024)) MiB ($verdict), output $(wc -c < "$out") bytes"
done
