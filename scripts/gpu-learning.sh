#!/bin/bash
# One device call for the learning measurements (docs/LEARNING.md): the kernel checks and an A/B of the
# opt-in kernels first, alone on the GPU, then MoCo's momentum and queue ablations and the first-minutes
# runs on CIFAR-10 (train_10k, kNN on test_1k) and the built-in shapes, JOBS at a time (ResNet-8 is
# host-bound, so runs side by side share the GPU well). Each run writes its console output (.txt) and
# its --log-json lines (.jsonl); everything is packed into OUT/learning.tar.gz every 20 s and at the end,
# so a call cut short still brings back what finished.
#   prepare here:  npm run bundle:gpu && ../shared/gpu/pack.sh dist-node/moco.mjs  (and .gpu/data, see gpu-session.sh)
#   on the machine: bash scripts/gpu-learning.sh "$OUT" 570     (device run, carry [".gpu"])
# Rehearse without a GPU: APP="node dist-node/moco.mjs" SMALL=1 DATA=../shared/data/cifar10 bash scripts/gpu-learning.sh /tmp/out 240
set -u
out=${1:?usage: gpu-learning.sh OUT [SECONDS]}
budget=${2:-560}
app=${APP:-bash .gpu/run.sh}
jobs=${JOBS:-3}
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
work=/tmp/learning; rm -rf $work; mkdir -p "$out" $work
log=$work/session.txt
say() { echo "[$(($(date +%s) - start)) s] $*" | tee -a "$log"; }
pack() { tar -czf "$out/learning.tar.gz.tmp" -C $work . && mv "$out/learning.tar.gz.tmp" "$out/learning.tar.gz"; }
(while sleep 20; do pack; done) & packer=$!

data=/tmp/gpu-data
if [ -z "${DATA:-}" ]; then
  mkdir -p $data
  for f in .gpu/data/*.xz; do
    python3 -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$f" "$data/$(basename "$f" .xz)"
  done
else data=$DATA; fi
nvidia-smi >>"$log" 2>&1

run() { # run NAME LIMIT ARGS...: one app run, alone
  local name=$1 limit=$2; shift 2
  [ "$limit" -gt "$(($(left) - 5))" ] && limit=$(($(left) - 5))
  [ "$limit" -lt 10 ] && { say "$name: skipped, ${limit}s left"; return 1; }
  say "$name (≤ ${limit}s): $*"
  timeout -k 5 "$limit" $app "$@" >"$work/$name.txt" 2>&1
  say "$name: exit $?"
}

if [ -n "${SMALL:-}" ]; then # rehearsal sizes (SwiftShader)
  net="--preset tiny --batch 16 --bn-splits 8"; epochs=1; sub="--train-size 64 --eval-size 32"; every=2; small=tiny; bench=tiny:8
else
  net="--preset resnet8-wide --batch 256 --bn-splits 8"; epochs=20; sub=""; every=78; small=resnet8; bench=resnet8:128,resnet18:256
fi

run checks 45 bench --check --backend webgpu --out $work/check
run ab 90 bench --preset $bench --steps 6 --warmup 3 --backend webgpu --variants custom,custom+Conv2DBackpropInput,custom+BatchNormRowSplit --out $work/ab

# The official CIFAR demo's recipe (v1, linear head, T 0.1, lr 0.03 cosine), with its crop scale 0.08.
demo="--backend webgpu $net --moco v1 --temperature 0.1 --lr 0.03 --schedule cosine --knn-on both --log-every 13"
cifar="--data $data/train_10k.bin --eval $data/test_1k.bin $sub"
# Highest priority first: a call cut short keeps the runs that matter most.
cat > $work/runs.txt <<EOF
m0 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --momentum 0
K256 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --queue 256
ref $demo $cifar --epochs $epochs --eval-every 20 --crop-scale 0.08
crop0.2 $demo $cifar --epochs $epochs --eval-every $every
m0.9 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --momentum 0.9
K16384 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --queue 16384
m0.999 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --momentum 0.999
K1024 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --queue 1024
app-cifar --backend webgpu --preset $small --moco v2 --batch 128 --schedule constant --knn-on both --log-every 10 $cifar --epochs $(( epochs / 4 > 0 ? epochs / 4 : 1 )) --eval-every 20
app-builtin --backend webgpu --preset $small --moco v2 --batch 128 --schedule constant --knn-on both --log-every 10 --train-size 5000 --eval builtin --epochs $(( epochs / 2 > 0 ? epochs / 2 : 1 )) --eval-every 20
demo-builtin $demo --train-size 5000 --eval builtin --epochs $epochs --eval-every 20 --crop-scale 0.08
EOF
[ -n "${SMALL:-}" ] && sed -i 's/--train-size 5000/--train-size 256/; s/--batch 128/--batch 16/' $work/runs.txt
say "learning runs, $jobs at a time: $(wc -l < $work/runs.txt)"
export app work
one() { # one NAME ARGS...
  local name=$1; shift
  local limit=$((budget - ($(date +%s) - start) - 8))
  [ $limit -lt 20 ] && return 0
  # .gpu/run.sh unpacks its .debs over / at every start: starts at the same moment collide there
  # (two runs of the first session died of it), so they are spaced out.
  flock "$work/.start" sleep 4
  echo "[$(($(date +%s) - start)) s] start $name" >>"$log"
  timeout -k 5 $limit $app train "$@" --log-json "$work/$name.jsonl" >"$work/$name.txt" 2>&1
  echo "[$(($(date +%s) - start)) s] end $name: exit $?" >>"$log"
}
export -f one; export start budget log
xargs -P "$jobs" -L 1 bash -c 'one "$@"' _ < $work/runs.txt
say "done, $(left)s left"
kill $packer 2>/dev/null
pack
ls -l "$out"
