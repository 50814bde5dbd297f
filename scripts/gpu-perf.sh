#!/bin/bash
# Issue #15's measurement in one device call (≤ 9 minutes): the kernel checks on the GPU, then
# ResNet-8 b128 and ResNet-18 b256 with steps alternating in one process between stock tfjs, our
# kernels (the new default), the same without the batch-norm + ReLU fusion (SeparateRelu) and the
# last GPU-measured default as near as the switches allow (per-tensor parameter updates, separate
# ReLU and moving statistics, every weight gradient split); then the convolutions (lever 2, `conv`:
# tfjs's GEMM input gradient and the opt-in convolution GEMMs against the default, profiled);
# the batch-norm's moving statistics in its normalising pass against after it
# (SeparateMovingStatistics), and the opt-in one-dispatch batch-norm; then, with the key encoder's
# lag measured every step as in the app, the lag taken by the momentum update's kernel against the
# plain sums (SeparateLagSums); then the time to the first step in a fresh process (with and
# without parallel compilation), the split-K threshold against splitting every weight gradient
# (AlwaysSplitK: ResNet-18 only, the one whose reductions straddle the threshold at its batch), and
# the binding cache A/B (host ms per dispatch, BindingCache), and the batch-norm row split A/B if time is left. Every log and JSON lands in OUT, with summary.json
# (the figures the issue asks for) last.
#   prepare here:   npm run bundle:gpu && ../shared/gpu/pack.sh dist-node/moco.mjs
#     (in a git worktree, where .git is a file, pack.sh stops at its .git/info/exclude line; there:
#     sed 's|"$root/.git/info/exclude"|"$(git rev-parse --path-format=absolute --git-path info/exclude)"|g' \
#       ../shared/gpu/pack.sh | bash -s dist-node/moco.mjs        and check `du -sh .gpu`: 29M)
#   on the machine: bash scripts/gpu-perf.sh "$OUT" 540          (device run, carry [".gpu"])
# Rehearse without a GPU (SwiftShader, tiny shapes):
#   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
#   APP="node dist-node/moco.mjs" SMALL=1 nice -n 19 bash scripts/gpu-perf.sh /tmp/out 500
#   (2026-11-29, loaded 2-core machine: every step exit 0 in 270–377 s, checks 87–192 s; docs/runs/2026-11-29-rehearsal/;
#   the conv step alone, SKIP="checks ab bn-one lag first-step first-step-precompile splitk host bn-rowsplit":
#   exit 0 in 176 s at load 12; docs/runs/2026-11-29-conv-rehearsal/)
set -u
out=${1:?usage: gpu-perf.sh OUT [SECONDS]}
budget=${2:-540}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/gpu-common.sh"

if [ -n "${SMALL:-}" ]; then # rehearsal sizes (SwiftShader)
  presets=tiny:2; splitk_presets=tiny:2; steps=1; warmup=1; conv_steps=1; conv_warmup=1; queue=16; t_checks=300; t_ab=400; t_conv=400; t_bn=300; t_lag=200; t_first=200; t_splitk=200; t_host=200
else
  presets=resnet8:128,resnet18:256; splitk_presets=resnet18:256; steps=8; warmup=3; conv_steps=6; conv_warmup=2; queue=4096; t_checks=90; t_ab=240; t_conv=60; t_bn=120; t_lag=100; t_first=50; t_splitk=60; t_host=60
fi

# The MoCo-step check once per variant: the defaults, and the opt-in convolutions of the conv step below.
step checks $t_checks bench --check --backend webgpu --variants custom,custom+Conv2D+GemmWideTiles --out "$out/check"
# custom ÷ stock and new ÷ previous default, steps alternating in one process; GPU time by kernel.
step ab $t_ab bench --preset $presets --steps $steps --warmup $warmup --queue $queue --backend webgpu \
  --variants stock,custom,custom+SeparateRelu,custom+PerTensorUpdates+SeparateRelu+SeparateMovingStatistics+AlwaysSplitK+BatchNormTwoPass+SeparateHeadRelu --out "$out/ab"
# Lever 2, the convolutions (ResNet-18 b256 on the H200: tfjs's input gradient 55 ms, its forward
# Conv2DMMProgram 45 ms and our weight gradient 38 ms of a 201 ms step), steps alternating in one
# process, profiled: the default (tfjs's forward and direct input gradient, our weight-gradient GEMM)
# against tfjs's own GEMM input gradient (TfjsGemmInputGradient: its flag
# WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE=false for that variant only) and ours (Conv2DBackpropInput).
# summary.json's `conv`: per preset and variant img/s ÷ custom and GPU ms per step of the forward,
# input- and weight-gradient kernels with the programs that ran, and the winner of each phase.
# Every candidate of each phase runs in some variant: forward tfjs / ours / ours wide (Conv2D,
# GemmWideTiles), input gradient tfjs direct / tfjs GEMM / ours / ours wide, weight gradient ours /
# ours wide; the last variant is the likely winner put together (wide GEMMs, tfjs's GEMM input
# gradient). The bench refuses a name it does not know, so a misspelt one stops this step instead
# of timing custom twice.
conv_variants=custom,custom+TfjsGemmInputGradient,custom+Conv2D+Conv2DBackpropInput,custom+Conv2D+Conv2DBackpropInput+GemmWideTiles,custom+Conv2D+GemmWideTiles+TfjsGemmInputGradient
step conv $t_conv bench --preset $presets --steps $conv_steps --warmup $conv_warmup --queue $queue --backend webgpu \
  --variants $conv_variants --out "$out/conv"
# Batch-norm: the moving statistics updated after the pass (the previous way) and every layer's
# batch-norm in two dispatches each way (BatchNormTwoPass, the previous way: the default takes
# layers of ≤ 2^21 elements in one, a guess) against the default, and the head's ReLU on its own
# (SeparateHeadRelu, the previous way); the batch-norm
# kernels' GPU time (summary: batchNorm.batchNormGpuMsPerStep; the JSON has dispatches by program,
# MocoBatchNormOnePass against MocoBatchNormStats + Normalize), to tune the size threshold.
step bn-one $t_bn bench --preset $presets --steps $steps --warmup $warmup --queue $queue --backend webgpu \
  --variants custom,custom+SeparateMovingStatistics,custom+BatchNormTwoPass,custom+SeparateHeadRelu --out "$out/bn-one"
# The key encoder's lag as the app measures it every step: fused into the momentum update or plain.
step lag $t_lag bench --preset $presets --steps $steps --warmup $warmup --queue $queue --backend webgpu \
  --key-encoder --variants custom,custom+SeparateLagSums --no-profile --out "$out/lag"
# The time to the first step in a fresh process (nothing compiled yet): our kernels alone.
step first-step $t_first bench --preset $presets --steps 1 --warmup 1 --queue $queue --backend webgpu \
  --variants custom --no-profile --out "$out/first"
# The same with the pipelines compiled in parallel first (tfjs's compile-only pass): precompileMs + firstStepMs.
step first-step-precompile $t_first bench --preset $presets --steps 1 --warmup 1 --queue $queue --backend webgpu \
  --variants custom --no-profile --precompile --out "$out/first-precompile"
# Weight gradients of ≤ 4,096 rows unsplit (the default) against every one split as before (AlwaysSplitK):
# ResNet-18 b256's last stage (K = 256·4·4) loses 2 summing dispatches; ResNet-8 b128 has no such layer.
step splitk $t_splitk bench --preset $splitk_presets --steps $steps --warmup $warmup --queue $queue --backend webgpu \
  --variants custom,custom+AlwaysSplitK --no-profile --out "$out/splitk"
# Lever 4, the host's cost per dispatch: our programs' uniform buffers and bind groups kept from step
# to step (opt-in BindingCache) against the default, alternating; every run's JSON has host ms per step
# and per dispatch (medianHostMs, hostMsPerDispatch: recording and submitting, before the read-back).
step host $t_host bench --preset $presets --steps $steps --warmup $warmup --queue $queue --backend webgpu \
  --variants custom,custom+BindingCache --no-profile --out "$out/host"
# Lever 1, if time is left: the batch-norm row split against the default, alternating.
step bn-rowsplit $(($(left) - 15)) bench --preset $presets --steps $steps --warmup $warmup --queue $queue --backend webgpu \
  --variants custom,custom+BatchNormRowSplit --no-profile --out "$out/bn"

python3 "$here/gpu-perf-summary.py" "$out" >"$out/summary.json" 2>>"$log"
say "summary: $(cat "$out/summary.json" | head -c 3000)"
say "done, $(left)s left"
