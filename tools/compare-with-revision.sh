#!/usr/bin/env bash
# Builds the `redraft` command of another revision (default: HEAD~1) beside this one and runs the README's
# documented generating commands with both on the tiny random model in fp32, comparing the output PNGs byte for
# byte (the last case, an RGBA mask, is a deliberate change and differs). Usage: tools/compare-with-revision.sh [REV]. Needs ../shared/data/clip. Prints one line per command.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-HEAD~1}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/old" "$rev" >/dev/null
dotnet build "$work/old/src/Redraft.Cli" -c Release -o "$work/old-bin" -v q -nologo >/dev/null
dotnet build src/Redraft.Cli -c Release -o "$work/new-bin" -v q -nologo >/dev/null
old() { dotnet "$work/old-bin/redraft.dll" "$@"; }
new() { dotnet "$work/new-bin/redraft.dll" "$@"; }
clip=$(cd ../shared/data/clip && pwd)
cd "$work"
new make-model --preset tiny --seed 1 --out tiny.safetensors >/dev/null
python3 - <<'PY'
import struct, zlib
def png(path, w, h, pixel):
    raw = b''.join(b'\x00' + b''.join(bytes(pixel(x, y)) for x in range(w)) for y in range(h))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
png('sketch.png', 96, 80, lambda x, y: (200, 120, 40) if (x - 48) ** 2 + (y - 40) ** 2 < 600 else (60, 140, 220))
def rgba(path, w, h, pixel):
    raw = b''.join(b'\x00' + b''.join(bytes(pixel(x, y)) for x in range(w)) for y in range(h))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 6, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
# White paint on a transparent background: a deliberate change (the alpha now says where; it was flattened onto white).
rgba('mask-rgba.png', 64, 64, lambda x, y: (255, 255, 255, 255) if 16 <= x < 40 and 20 <= y < 44 else (0, 0, 0, 0))
png('mask.png', 64, 64, lambda x, y: (255, 255, 255) if 16 <= x < 40 and 20 <= y < 44 else (0, 0, 0))
PY
M=(--model tiny.safetensors --tokenizer "$clip" --dtype fp32 --threads 2 --width 64 --height 64 --steps 6)
run() {
  local name=$1; shift
  old "$@" --out "old-$name.png" >/dev/null 2>old.err || { echo "$name: old failed: $(tail -1 old.err)"; return; }
  new "$@" --out "new-$name.png" >/dev/null 2>new.err || { echo "$name: new failed: $(tail -1 new.err)"; return; }
  local same=0 total=0
  for f in old-"$name"*.png; do
    total=$((total + 1))
    cmp -s "$f" "new-${f#old-}" && same=$((same + 1))
  done
  echo "$name: $same of $total identical"
}
run txt2img txt2img "${M[@]}" --prompt "a cosy cottage" --seed 7
run txt2img-batch txt2img "${M[@]}" --prompt "a cosy cottage, (oil painting:1.2)" --negative blurry --seed 1234 --batch 3 --sampler "DPM++ 2M Karras"
run img2img img2img "${M[@]}" --init sketch.png --prompt "a cosy cottage" --strength 0.8 --seed 1234 --batch 2
run img2img-ddim img2img "${M[@]}" --init sketch.png --prompt "a cosy cottage" --strength 0.4 --seed 99 --sampler DDIM
run inpaint img2img "${M[@]}" --init sketch.png --prompt "a red door" --strength 0.75 --seed 5 --mask mask.png
run inpaint-masked img2img "${M[@]}" --init sketch.png --prompt "a red door" --strength 0.75 --seed 5 --mask mask.png --inpaint-area masked --inpaint-padding 8 --masked-content fill
run txt2img-nv txt2img "${M[@]}" --prompt "a cosy cottage" --seed 3 --rng nv --sampler "Euler a" --schedule karras
run inpaint-rgba-mask img2img "${M[@]}" --init sketch.png --prompt "a red door" --strength 0.75 --seed 5 --mask mask-rgba.png
# The document tour (regions are left out: they run at the working size now, a deliberate change).
doc() {
  local which=$1 d="doc-$1"; shift
  local bin=$which
  $bin doc new "$d" --from sketch.png >/dev/null
  $bin doc generate "$d" "${M[@]}" --prompt "a cosy cottage" --strength 0.8 --seed 1234 --variations 2 >/dev/null
  $bin doc pick "$d" L3 >/dev/null
  $bin doc generate "$d" "${M[@]}" --prompt "a blue door" --strength 0.75 --seed 7 --mask mask-doc.png >/dev/null
  $bin doc pick "$d" L4 >/dev/null
  $bin doc harmonize "$d" "${M[@]}" --prompt "a cosy cottage" --strength 0.3 --seed 99 >/dev/null
  $bin doc render "$d" --out "$which-doc.png" >/dev/null
}
python3 - <<'PY'
import struct, zlib
raw = b''.join(b'\x00' + b''.join(bytes((255, 255, 255) if 30 <= x < 60 and 20 <= y < 50 else (0, 0, 0)) for x in range(96)) for y in range(80))
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open('mask-doc.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 96, 80, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
PY
M=(--model tiny.safetensors --tokenizer "$clip" --dtype fp32 --threads 2 --steps 6)
if doc old 2>old.err && doc new 2>new.err; then
  cmp -s old-doc.png new-doc.png && echo "doc tour: render identical" || echo "doc tour: render differs"
else
  echo "doc tour: failed: $(tail -1 old.err) / $(tail -1 new.err)"
fi
