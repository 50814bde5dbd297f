#!/bin/bash
# One device call for the learning measurements (docs/LEARNING.md): the kernel checks and an A/B of the
# opt-in kernels first, alone on the GPU, then MoCo's momentum and queue ablations and the first-minutes
# runs on CIFAR-10 (train_10k, kNN on test_1k) and the built-in shapes, JOBS at a time (ResNet-8 is
# host-bound, so runs side by side share the GPU well). Each run writes its console output (.txt) and
# its --log-json lines (.jsonl); everything is packed into OUT/learning.tar.gz every 20 s and at the end,
# so a call cut short still brings back what finished (the call's own log: session.log in the archive;
# the bench steps' output goes there too). After the first start the runs start the unpacked app
# directly (gpu-common.sh: direct_app). SKIP="checks ab" leaves the bench steps out (gpu-all.sh does:
# its perf part measures them alone on the GPU first).
#   prepare here:  npm run bundle:gpu && ../shared/gpu/pack.sh dist-node/moco.mjs  (and .gpu/data: docs/GPU-SESSION.md)
#   on the machine: bash scripts/gpu-learning.sh "$OUT" 570     (device run, carry [".gpu"])
# Rehearse without a GPU: APP="node dist-node/moco.mjs" SMALL=1 DATA=../shared/data/cifar10 bash scripts/gpu-learning.sh /tmp/out 240
set -u
dest=${1:?usage: gpu-learning.sh OUT [SECONDS]}
budget=${2:-560}
jobs=${JOBS:-3}
# Each run's files go to a folder of their own, packed into OUT/learning.tar.gz every 20 s and at the end.
out=/tmp/learning; rm -rf $out; mkdir -p "$dest"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/gpu-common.sh"
work=$out
# One pack at a time (the loop's and the last one), the last one last: never two tars on one file.
pack() { flock /tmp/learning.pack bash -c 'tar -czf "$1.tmp" -C "$2" . && mv "$1.tmp" "$1"' _ "$dest/learning.tar.gz" $work; }
(while sleep 20; do pack; done) & packer=$!
unpack_data
nvidia-smi >>"$log" 2>&1

if [ -n "${SMALL:-}" ]; then # rehearsal sizes (SwiftShader)
  net="--preset tiny --batch 16 --bn-splits 8"; epochs=1; sub="--train-size 64 --eval-size 32"; every=2; small=tiny; bench=tiny:8
else
  net="--preset resnet8-wide --batch 256 --bn-splits 8"; epochs=20; sub=""; every=78; small=resnet8; bench=resnet8:128,resnet18:256
fi

step checks 45 bench --check --backend webgpu --out $work/check
step ab 90 bench --preset $bench --steps 6 --warmup 3 --backend webgpu --variants custom,custom+Conv2DBackpropInput,custom+BatchNormRowSplit --out $work/ab

# The official CIFAR demo's recipe (v1, linear head, T 0.1, lr 0.03 cosine), with its crop scale 0.08.
demo="--backend webgpu $net --moco v1 --temperature 0.1 --lr 0.03 --schedule cosine --knn-on both --log-every 13"
cifar="--data $data/train_10k.bin --eval $data/test_1k.bin $sub"
sample="--data public/cifar10-sample --eval public/cifar10-sample $sub"
app_setup="--backend webgpu --preset $small --moco v2 --batch 128 --schedule constant --knn-on both --log-every 10"
# Highest priority first: a call cut short keeps the runs that matter most. ref (m 0.99, K 4096: the
# centre of both ablations at the reference's crop) and K256 never ran (docs/LEARNING.md); app-sample is
# issue #13 item 7 on the app's CIFAR-10 sample (the app's default GPU setup, kNN every 20 steps); the
# rest were measured on 2026-11-28 with older kernels and are run again for one consistent table.
cat > $work/runs.txt <<EOF
ref $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08
K256 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --queue 256
app-sample $app_setup $sample --epochs $(( epochs / 2 > 0 ? epochs / 2 : 1 )) --eval-every 20
m0 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --momentum 0
m0.9 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --momentum 0.9
m0.999 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --momentum 0.999
K1024 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --queue 1024
K16384 $demo $cifar --epochs $epochs --eval-every $every --crop-scale 0.08 --queue 16384
crop0.2 $demo $cifar --epochs $epochs --eval-every $every
app-builtin $app_setup --train-size 5000 --eval builtin --epochs $(( epochs / 2 > 0 ? epochs / 2 : 1 )) --eval-every 20
app-cifar $app_setup $cifar --epochs $(( epochs / 4 > 0 ? epochs / 4 : 1 )) --eval-every 20
demo-builtin $demo --train-size 5000 --eval builtin --epochs $epochs --eval-every 20 --crop-scale 0.08
EOF
[ -n "${SMALL:-}" ] && sed -i 's/--train-size 5000/--train-size 256/; s/--batch 128/--batch 16/' $work/runs.txt
direct_app
say "learning runs, $jobs at a time: $(wc -l < $work/runs.txt)"
export app work
one() { # one NAME ARGS...
  local name=$1; shift
  local limit=$((budget - ($(date +%s) - start) - 8))
  [ $limit -lt 20 ] && return 0
  # Starts spaced out: compiling pipelines at the same moment (and, should direct_app have found nothing
  # unpacked, run.sh's .debs unpacked over / at once: two runs of the first session died of that).
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
ls -l "$dest"
