#!/bin/bash
# Issues #15, #14 and #13's GPU measurements in ONE device call of SECONDS (default 540): a session
# that draws a GPU has 15 minutes of device time in all (the machine's start, the call, the idle wait),
# and the three scripts alone need ~27 minutes. The whole procedure (prepare, the call, what to commit
# where): docs/GPU-SESSION.md.
#
# Order = priority; each part is packed into OUT as it finishes, so a call cut short keeps what finished.
#  1. Perf (#15), alone on the GPU (its timings need the GPU to themselves): scripts/gpu-perf.sh with
#     PERF_SECONDS (default 200) of the call, its steps in its own order: the kernel checks on the GPU,
#     then `ab` (stock, custom, custom+SeparateRelu and the previous default, ResNet-8 b128 and
#     ResNet-18 b256, steps alternating in one process: custom ÷ stock and new ÷ previous default, the
#     issue's "Done when"), then `conv` (lever 2, now the largest for ResNet-18: tfjs's GEMM input
#     gradient and the opt-in convolution GEMMs against the default, profiled), then the lever A/Bs
#     (bn-one, lag, first-step with and without precompile, splitk, host). Left out (SKIP): bn-rowsplit,
#     the "if time is left" filler, already A/B'd on the H200 (docs/PERFORMANCE.md, second GPU
#     session): its time goes to part 2 instead.
#     Estimate from the measured H200 figures (docs/PERFORMANCE.md): checks ~20 s (44 took 10 s with the
#     start; now 136: 127 kernel cases, and MoCo step pairs for custom, custom+Conv2D+GemmWideTiles and
#     TfjsGemmInputGradient); ab ~70 s (stock ResNet-18 at 82 img/s is 3.1 s a
#     step × 12 ≈ 37 s, stock ResNet-8 at 228 img/s ≈ 7 s, three custom variants at 1,245 / 3,155 img/s
#     ≈ 9 s, starts, compiles and the profiled steps ~15 s); conv ~27 s with its five variants (each 2 warm-up + 6 timed + a counted and a profiled
#     step: ResNet-18 b256 at ~0.2 s a step, the profiled one ~2×, ≈ 2.4 s a variant ≈ 12 s; ResNet-8
#     b128 at ~0.05 s ≈ 3 s; the start and five variants' compiles ~10 s);
#     bn-one ~20 s; lag ~12 s; the two first-step runs ~16 s; splitk ~10 s; host ~10 s: ~190 s. To fit,
#     conv takes 2 warm-up + 6 timed steps (the other A/Bs 3 + 8). The cap cuts from the end (host,
#     splitk, the first steps, lag) if the GPU is slower than that.
#  2. Side by side, from the end of part 1 to SECONDS − 15 (~330–380 s). ResNet-8 is host-bound (41 ms
#     a step against 14 ms of GPU time) and the H200 has 16 cores, so runs share the GPU well (four
#     ResNet-8 runs at once on 2026-11-28: 1,300–1,830 img/s each, ~6,000 together). The app is started
#     directly from here on (gpu-common.sh: direct_app): .gpu/run.sh's .debs unpacked over / by starts
#     at the same moment killed two runs of the first learning session.
#     a. The classroom recording (#14 item 4): scripts/gpu-replay.sh, ResNet-8 b128 on the CIFAR-10
#        sample, 20 epochs (780 steps), kNN + probe every epoch, the recording as gpu-replay.sh writes
#        it. Estimate: 100k images at ~1,600 img/s beside the learning runs ≈ 62 s, 21 kNN (~0.5 s) and
#        21 probes (~2–4 s) ≈ 60–90 s: ~130–160 s. It falls back to stock kernels if ours fail.
#     b. The learning runs (#13): scripts/gpu-learning.sh without its bench steps (SKIP="checks ab":
#        part 1 measured them alone), JOBS (default 3) at a time, its list's order: ref (m 0.99, K 4096,
#        crop 0.08) and K256, which never ran; app-sample (item 7: the app's default setup on the CIFAR-10
#        sample, kNN every 20 steps); then m0, m0.9, m0.999, K1024, K16384, crop0.2, app-builtin,
#        app-cifar, demo-builtin again with today's kernels. Estimate: a 20-epoch ResNet-8 (32/64/128)
#        b256 run took 120–170 s beside three others (2026-11-28 logs); three lanes × ~350 s finish ref,
#        K256, app-sample (~45 s), m0, m0.9 and m0.999; the rest are cut by the deadline (each run's
#        .jsonl keeps its curve so far).
# OUT gets (≤ 8 files, the device tool's limit): session.txt (this call's log), perf.tar.gz and
# perf-summary.json (after part 1), replay.tar.gz (its session.log, run.jsonl, index.json and the
# recording's zip; every 20 s while it runs), learning.tar.gz (gpu-learning.sh's own, every 20 s).
#
#   on the machine: bash scripts/gpu-all.sh "$OUT" 540     (device run: carry [".gpu"], timeout_s 570)
# Rehearse without a GPU (SwiftShader, tiny shapes; the replay's evaluations on tfjs-cpu, as SwiftShader
# takes minutes per evaluation; the kernel checks left out, rehearsed in docs/runs/2026-11-29-rehearsal):
#   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
#   APP="node dist-node/moco.mjs" SMALL=1 BACKEND=cpu DATA=../shared/data/cifar10 PERF_SECONDS=700 SKIP=checks JOBS=2 \
#   bash scripts/gpu-all.sh /tmp/all-out 1300
# (2026-11-29, the 2-core machine at load 15-20: part 1 327 s, every perf step exit 0; the recording in
# 277 s; ref and K256 done, app-sample and m0 cut by the deadline; every part packed: docs/runs/2026-11-29-gpu-all-rehearsal/)
# SKIP names more of gpu-perf.sh's steps to leave out of part 1 (e.g. SKIP=checks where they ran already).
set -u
dest=${1:?usage: gpu-all.sh OUT [SECONDS]}
budget=${2:-540}
mkdir -p "$dest" && dest=$(cd "$dest" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out=/tmp/gpu-all; rm -rf $out # each part's folder, packed into OUT
. "$here/gpu-common.sh"
pack() { # pack PART: $out/PART → OUT/PART.tar.gz, whole or not at all; the call's log beside it
  [ -d "$out/$1" ] && tar -czf "$dest/$1.tar.gz.tmp" -C "$out" "$1" && mv "$dest/$1.tar.gz.tmp" "$dest/$1.tar.gz"
  cp "$log" "$dest/session.txt"
}
nvidia-smi >>"$log" 2>&1
unpack_data >/dev/null & unpacker=$! # the learning runs' CIFAR-10 files, while part 1 runs

perf_budget=${PERF_SECONDS:-200}
[ "$perf_budget" -gt "$(($(left) - 60))" ] && perf_budget=$(($(left) - 60))
say "part 1, perf (#15), alone on the GPU: ≤ ${perf_budget}s"
SKIP="bn-rowsplit ${SKIP:-}" bash "$here/gpu-perf.sh" "$out/perf" "$perf_budget"
say "part 1: exit $?"
cp "$out/perf/summary.json" "$dest/perf-summary.json" 2>/dev/null
pack perf

wait $unpacker
[ -z "${DATA:-}" ] && data=/tmp/gpu-data || data=$DATA
direct_app
phase=$(($(left) - 15))
say "part 2, side by side for ${phase}s: the replay recording (#14) and the learning runs (#13, ${JOBS:-3} at a time); app: $app"
bash "$here/gpu-replay.sh" "$out/replay" "$phase" & replay=$!
sleep 2 # the replay compiles first
SKIP="checks ab" DATA=$data bash "$here/gpu-learning.sh" "$dest" "$((phase - 2))" & learning=$!
# Packed from here, one at a time (never two tars on one file): the replay's folder every 20 s while it
# runs and once when it ends; the log every 20 s. gpu-learning.sh packs its own.
tick=0
while kill -0 $replay 2>/dev/null; do sleep 5; tick=$((tick + 1)); [ $((tick % 4)) -eq 0 ] && pack replay; done
wait $replay
say "part 2a, replay: exit $?"
pack replay
while kill -0 $learning 2>/dev/null; do sleep 5; tick=$((tick + 1)); [ $((tick % 4)) -eq 0 ] && cp "$log" "$dest/session.txt"; done
wait $learning
say "part 2b, learning: exit $?"
say "done, $(left)s left"
ls -l "$dest" | tee -a "$log"
cp "$log" "$dest/session.txt"
