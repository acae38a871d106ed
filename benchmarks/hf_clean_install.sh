#!/usr/bin/env bash
# `pip install 'neuromask[hf]'` in a new, empty virtual environment, then
# `neuromask explain` and `neuromask compare --methods all` on a Hugging Face image
# classifier saved in a local folder (save_pretrained). Also shows what the extra adds to
# a plain `pip install neuromask`: the packages after each install, side by side.
#
# The package is installed from a wheel built from this checkout (found with
# --find-links: the command is literally `pip install 'neuromask[hf]'`). The model is a
# 4-block ViT configuration at 224 px with random weights (no hub access here), saved
# with transformers' save_pretrained together with its ViTImageProcessor.
#
# Usage: bash benchmarks/hf_clean_install.sh   (writes benchmarks/results/hf_clean_install.md
# and hf_clean_install_compare.png)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT="$ROOT/benchmarks/results/hf_clean_install.md"
LOG="$WORK/log.md"
PY=${PY:-python3}

say() { printf '%s\n' "$*" >>"$LOG"; }
# Runs a command, records it and its output (and exit status) in the log as a code block.
show() {
    say '```console'
    say "\$ ${*//$WORK/\$WORK}"
    set +e
    "$@" >"$WORK/cmd.out" 2>&1
    local code=$?
    set -e
    # pip's notes about this machine's local package mirror are not part of the result.
    sed "s#$WORK#\$WORK#g" "$WORK/cmd.out" | grep -v -e '^\s*$' -e 'is ignored: it is neither a file nor a directory' >>"$LOG" || true
    say "(exit status $code)"
    say '```'
    return 0
}

say "# neuromask[hf] from a clean environment"
say ""
say "\`bash benchmarks/hf_clean_install.sh\`, $(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg),"
say "$(nproc) cores, $($PY --version)."
say ""

$PY -m venv "$WORK/venv"
V="$WORK/venv/bin"
"$V/pip" install -q --upgrade pip
# The CPU build of torch first, as the README's Install section says.
"$V/pip" install -q torch==2.13.0
# The wheel, built from a copy of the checkout (no build files land in the tree).
mkdir "$WORK/project"
cp -r "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/src" "$WORK/project/"
"$V/pip" wheel -q --no-deps -w "$WORK/dist" "$WORK/project"
"$V/pip" freeze | sort >"$WORK/torch_only.txt"

say "## 1. A plain install, then the extra"
say ""
show "$V/pip" install -q --find-links "$WORK/dist" neuromask
"$V/pip" freeze | sort >"$WORK/plain.txt"
show "$V/pip" install -q --find-links "$WORK/dist" 'neuromask[hf]'
"$V/pip" freeze | sort >"$WORK/hf.txt"
say ""
say "What \`neuromask[hf]\` added to the plain install (\`comm -13\` of \`pip freeze\` before and after); nothing was"
say "removed or changed (\`comm -23\` is empty) and torch is still the build installed first:"
say ""
say '```'
comm -13 "$WORK/plain.txt" "$WORK/hf.txt" >>"$LOG"
say "--- removed or changed:"
comm -23 "$WORK/plain.txt" "$WORK/hf.txt" >>"$LOG"
say "--- torch:"
grep -i '^torch==' "$WORK/hf.txt" >>"$LOG"
say '```'
say ""

say "## 2. A Hugging Face classifier saved in a folder"
say ""
cat >"$WORK/save.py" <<'EOF'
import sys

import torch
import transformers
from skimage import data
from PIL import Image

torch.manual_seed(0)
config = transformers.ViTConfig(
    image_size=224, patch_size=16, num_hidden_layers=4, hidden_size=96, num_attention_heads=4,
    intermediate_size=192, num_labels=3, id2label={0: "cat", 1: "dog", 2: "fox"},
    label2id={"cat": 0, "dog": 1, "fox": 2},
)
transformers.ViTForImageClassification(config).save_pretrained(sys.argv[1])
transformers.ViTImageProcessor(size={"height": 224, "width": 224}).save_pretrained(sys.argv[1])
Image.fromarray(data.chelsea()).save(sys.argv[2])
print("saved:", sorted(p.name for p in __import__("pathlib").Path(sys.argv[1]).iterdir()))
EOF
show "$V/python" "$WORK/save.py" "$WORK/vit" "$WORK/chelsea.png"

say "## 3. explain and compare"
say ""
show "$V/neuromask" explain "$WORK/chelsea.png" --model "hf:$WORK/vit" --out "$WORK/explain"
show ls "$WORK/explain"
show "$V/neuromask" explain "$WORK/chelsea.png" --model "hf:$WORK/vit" --method gradcam --out "$WORK/explain"
show "$V/python" -c "import json; r = json.load(open('$WORK/explain/chelsea.gradcam.json')); print({k: r[k] for k in ('model', 'target', 'label', 'probability')})"
show "$V/neuromask" compare "$WORK/chelsea.png" --model "hf:$WORK/vit" --methods all --out "$WORK/compare"
# Half size, so that the committed picture stays small.
"$V/python" -c "from PIL import Image; im = Image.open('$WORK/compare/compare.png').convert('RGB'); im.reduce(2).save('$ROOT/benchmarks/results/hf_clean_install_compare.png', optimize=True)"
say ""
say "The comparison grid: [hf_clean_install_compare.png](hf_clean_install_compare.png) (random weights: the maps"
say "show that each method runs on the model, not what a trained model looks at)."
cp "$LOG" "$OUT"
cat "$OUT"
