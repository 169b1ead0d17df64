#!/usr/bin/env bash
# One prepared GPU check (under 10 minutes on one GPU): the probe tests with --device cuda,
# bench_probe on CUDA, and a bf16/AMP model, printing every number the closing note needs.
#
#   bash bench/gpu_check.sh            # on a machine with an NVIDIA GPU and torch with CUDA
#
# CI never has a GPU: the CUDA path stays covered by CPU tests of its device logic.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
python - <<'PY' || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device: nothing to check"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
PY
status=0
echo "== probe and measured-rule tests (the default --device auto picks CUDA here)"
timeout 300 python -m pytest -q -p no:cacheprovider tests/test_probe.py tests/test_measured_rules.py || status=1
echo "== bench_probe on CUDA"
timeout 180 python bench/bench_probe.py --device cuda || status=1
echo "== a bf16 model and an AMP-style model through the CLI with --device cuda"
tmp=$(mktemp -d)
cat > "$tmp/bf16_model.py" <<'PY'
import torch
import torch.nn as nn

def build_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 10)).to(torch.bfloat16)

def example_inputs():
    return (torch.randn(32, 64, dtype=torch.bfloat16),)
PY
cat > "$tmp/amp_model.py" <<'PY'
import torch
import torch.nn as nn

class AmpNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                  nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return self.head(self.body(x).mean((2, 3)))
PY
for f in bf16_model.py amp_model.py; do
    start=$(date +%s.%N)
    timeout 120 python -m actlint "$tmp/$f" --device cuda --format json > "$tmp/$f.json"
    echo "$f: exit $? in $(echo "$(date +%s.%N) - $start" | bc) s"
    python -c "import json,sys; m=json.load(open(sys.argv[1]))['models'][0]; print('  probe', m['probe']['status'], m['probe'].get('device'), [f['rule'] for f in m['findings']])" "$tmp/$f.json" || status=1
done
exit $status
