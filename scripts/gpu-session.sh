#!/bin/bash
# One device session on a GPU machine, in one call (device time is scarce): the kernel checks, the
# benchmark (stock vs custom, same run), A/B runs of the opt-in kernels and of tfjs's GEMM input
# gradient, then MoCo on CIFAR-10 (train_10k) with the kNN monitor on test_1k for as many epochs
# (up to 20) as the time left allows at the measured speed. Every log and result lands in OUT.
#   prepare here:  npm run bundle:gpu && ../shared/gpu/pack.sh dist-node/moco.mjs
#                  rm -rf .gpu/data && python3 scripts/gpu-data.py pack ../shared/data/cifar10 .gpu/data
#                  (the two files xz'd whole no longer fit the call's 64 MiB: docs/GPU-SESSION.md)
#   on the machine: bash scripts/gpu-session.sh "$OUT" 570     (device run, carry [".gpu"])
# Rehearse without a GPU: APP="node /path/to/moco.mjs" SMALL=1 bash scripts/gpu-session.sh /tmp/out 300
set -u
out=${1:?usage: gpu-session.sh OUT [SECONDS]}
budget=${2:-560}
. "$(cd "$(dirname "$0")" && pwd)/gpu-common.sh"
unpack_data

if [ -n "${SMALL:-}" ]; then # rehearsal sizes (SwiftShader)
  presets=tiny:8; wide=tiny:16; steps=2; warmup=1; batch=16; preset=tiny; subset="--train-size 320 --eval-size 100"
else
  presets=resnet8:128,resnet18:256; wide=resnet8-wide:256; steps=8; warmup=3; batch=256; preset=resnet8-wide; subset=""
fi

step checks 60 bench --check --backend webgpu --out "$out/check"
step bench 200 bench --preset $presets --steps $steps --warmup $warmup --backend webgpu --out "$out/bench"
step speed 45 bench --preset $wide --steps 4 --warmup 2 --backend webgpu --variants custom --no-profile --out "$out/speed"
# Opt-in kernels against the default custom set, alternating in one process.
step opt-in 90 bench --preset $presets --steps 6 --warmup 3 --backend webgpu --variants custom,custom+Conv2DBackpropInput,custom+BatchNormRowSplit --out "$out/ab"
step dx-tfjs-matmul 45 bench --preset $presets --steps 4 --warmup 2 --backend webgpu --variants custom --flag WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE=false --out "$out/ab"

# Epochs the time left allows at the speed just measured (kNN evaluations every 2 epochs included).
ips=$(python3 -c "import json,glob,sys; r=[v['imagesPerSecond'] for f in glob.glob(sys.argv[1]+'/*.json') for run in json.load(open(f))['runs'] for v in run['result']['variants']]; print(int(max(r)) if r else 0)" "$out/speed" 2>>"$log")
images=$([ -n "${SMALL:-}" ] && echo 320 || echo 10000)
epochs=$(python3 -c "import sys; ips,left,n=map(float,sys.argv[1:]); print(max(1,min(20,int(0.75*(left-60)*ips/n))))" "${ips:-0}" "$(left)" $images)
every=$((2 * images / batch))
say "measured ${ips} img/s (custom, $wide): training $epochs epochs"
recipe="--backend webgpu --data $data/train_10k.bin --eval $data/test_1k.bin $subset --preset $preset --moco v1 --temperature 0.1
  --lr 0.03 --schedule cosine --batch $batch --queue 4096 --momentum 0.99 --bn-splits 8 --eval-every $every --knn-on both
  --log-every $((images / batch / 3 > 0 ? images / batch / 3 : 1))"
step train $(($(left) - 5)) train $recipe --epochs $epochs
rc=$?
# Our kernels failing on this GPU must not cost the learning curve: the same recipe on stock kernels.
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(left)" -gt 120 ]; then
  say "train failed with our kernels: again with --stock-kernels, fewer epochs"
  step train-stock $(($(left) - 5)) train $recipe --stock-kernels --epochs $(( epochs / 4 > 0 ? epochs / 4 : 1 ))
fi
say "done, $(left)s left"
