#!/bin/bash
# The classroom recording (issue #14, item 4) in one device call: the app's GPU setup — MoCo v2,
# ResNet-8 (16/32/64) at batch 128, K 4096, m 0.99, T 0.2, cosine learning rate — on the app's
# CIFAR-10 sample (public/cifar10-sample/: tracked in git, so it travels with the working tree;
# the same images and content hash as the app's, so the app resumes the final checkpoint),
# EPOCHS epochs (default 20: 780 steps), a kNN evaluation and a 20-epoch linear probe every epoch.
# Writes OUT/moco-replay-resnet8-cifar10-sample.zip (the recording, about 3 MB), OUT/index.json (its
# entry for public/replay/index.json), OUT/run.jsonl (--log-json) and OUT/session.log.
#   prepare here:   npm run bundle:gpu && ../shared/gpu/pack.sh dist-node/moco.mjs
#   on the machine: bash scripts/gpu-replay.sh "$OUT" 480          (device run, carry [".gpu"])
#   then here:      cp OUT/moco-replay-*.zip OUT/index.json public/replay/   (README: Classroom replay)
# Sized for an H200 (ResNet-8 b128 ≈ 3,000 img/s: ~35 s of steps, ~2 min of evaluations).
# Rehearse without a GPU (SwiftShader, tiny shapes, a few steps, a subset: not a shippable recording):
#   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
#   APP="node dist-node/moco.mjs" SMALL=1 bash scripts/gpu-replay.sh /tmp/replay-out 600
# (SwiftShader's WebGPU takes minutes per evaluation on a busy 2-core machine; BACKEND=cpu rehearses
# the rest of the script in a minute.)
set -u
out=${1:?usage: gpu-replay.sh OUT [SECONDS]}
budget=${2:-480}
# Absolute: the recording's path goes into the trainer's arguments.
mkdir -p "$out" && out=$(cd "$out" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/gpu-common.sh"

sample=public/cifar10-sample
[ -f $sample/sample.json ] || { say "no $sample/sample.json: run from the repository root"; exit 2; }
# The recording names the device: the GPU's marketing name, beside the WebGPU adapter's.
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
[ -n "$gpu" ] && export MOCO_RECORD_DEVICE="$gpu"

if [ -n "${SMALL:-}" ]; then # rehearsal sizes (SwiftShader)
  preset=tiny; batch=16; queue=256; length="--steps 6"; every=3; probe=2; subset="--train-size 320 --eval-size 100"; name=rehearsal
else
  preset=${PRESET:-resnet8}; batch=128; queue=4096; length="--epochs ${EPOCHS:-20}"; every=$((5000 / batch)); probe=20; subset=""; name=$preset-cifar10-sample
fi
file=$out/moco-replay-$name.zip
recipe="--backend ${BACKEND:-webgpu} --data $sample --eval $sample $subset --preset $preset --moco v2 --batch $batch --queue $queue
  --momentum 0.99 --eval-every $every --probe-epochs $probe --log-every $every --log-json $out/run.jsonl --record $file"

step train $(($(left) - 10)) train $recipe $length
rc=$?
# Our kernels failing on this GPU must not cost the recording: the same run on stock tfjs kernels.
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(left)" -gt 120 ]; then
  say "the run failed with our kernels: again with --stock-kernels"
  step train-stock-kernels $(($(left) - 10)) train $recipe $length --stock-kernels
  rc=$?
fi
[ -f "$file" ] || { say "no recording written (exit $rc)"; exit 1; }
python3 - "$file" "$out/index.json" >>"$log" 2>&1 <<'PY'
import json, sys, zipfile, os
path, index = sys.argv[1], sys.argv[2]
m = json.loads(zipfile.ZipFile(path).read('recording.json'))
knn, probes = m['knn'], m['probes']
made = m['made']
summary = (f"{m['title']}: {m['steps']['count']} steps; kNN {100*knn[0]['accuracy']:.1f}% -> {100*knn[-1]['accuracy']:.1f}%; "
           f"probe {100*probes[0]['accuracy']:.1f}% -> {100*probes[-1]['accuracy']:.1f}%; {made['imagesPerSecond']:.0f} img/s on {made['device']}; "
           f"{os.path.getsize(path)/1e6:.2f} MB")
print(summary)
json.dump({'recordings': [{'file': os.path.basename(path), 'title': m['title'], 'description': summary}]}, open(index, 'w'), indent=2)
PY
say "recording: $(tail -1 "$log")"
say "done, $(left)s left"
