"""The figures issue #15 asks for, from the bench JSON that scripts/gpu-perf.sh leaves in OUT:
per preset, img/s of each variant, custom ÷ stock, new ÷ previous default (the last default measured
on a GPU, as near as the switches allow: PerTensorUpdates+SeparateRelu+SeparateMovingStatistics+AlwaysSplitK
+BatchNormTwoPass+SeparateHeadRelu), each fusion on ÷ off (SeparateRelu, SeparateLagSums,
SeparateMovingStatistics, SeparateHeadRelu), the default one-dispatch batch-norm of small layers ÷
every layer in two passes (BatchNormTwoPass; and the batch-norm kernels' GPU ms in each), the split-K threshold ÷ splitting every weight
gradient (AlwaysSplitK), dispatches, GPU ms,
first-step times, the kernel checks, and the convolutions' A/B (`conv`: per variant img/s ÷ custom and
GPU ms per step of the forward, input- and weight-gradient kernels, with each phase's fastest variant;
and per convolution shape, `conv[preset].shapes`: each layer shape's GPU ms in every variant and its
fastest, the figures for choosing tiles per shape).
usage: gpu-perf-summary.py OUT"""
import glob
import json
import re
import sys

out = sys.argv[1]


def files(folder):
    return [json.load(open(f)) for f in sorted(glob.glob(f"{out}/{folder}/*.json"))]


def variants(folder):
    """{preset:batch: {variant: figures}} over the runs in one folder."""
    table = {}
    for f in files(folder):
        for run in f["runs"]:
            r = run["result"]
            key = f"{r['preset']}:{r['batch']}"
            table.setdefault(key, {"environment": r["environment"]})
            for v in r["variants"]:
                figures = table[key][v["variant"]] = {
                    k: v.get(k)
                    for k in ("imagesPerSecond", "medianStepMs", "medianHostMs", "hostMsPerDispatch", "firstStepMs", "compileMs", "precompileMs", "dispatchesPerStep", "gpuMsPerStep")
                }
                # The batch-norm kernels' share (forward and backward) in the profiled step: what the
                # one-dispatch size threshold is tuned by.
                by_kernel = v.get("gpuMsByKernel")
                figures["batchNormGpuMsPerStep"] = None if not by_kernel else round(sum(ms for name, ms in by_kernel.items() if name.startswith("MocoSplitBatchNorm")), 3)
    return table


def ratio(a, b):
    return round(a / b, 3) if a and b else None


summary = {"checks": None, "presets": {}, "errors": []}
checks = [c for f in files("check") for group in f["checks"] for c in group["checks"]]
if checks:
    worst = max(checks, key=lambda c: c["relativeError"] / c["tolerance"])
    summary["checks"] = {
        "passed": sum(c["passed"] for c in checks),
        "total": len(checks),
        "failed": [c["name"] for c in checks if not c["passed"]],
        "worst": {"name": worst["name"], "relativeError": worst["relativeError"], "tolerance": worst["tolerance"]},
    }
for folder in ("check", "ab", "conv", "bn-one", "lag", "first", "first-precompile", "splitk", "host", "bn"):
    summary["errors"] += [e[:300] for f in files(folder) for e in f["errors"]]

ab, lag, first, bn, pre, splitk = variants("ab"), variants("lag"), variants("first"), variants("bn"), variants("first-precompile"), variants("splitk")
bn_one, host = variants("bn-one"), variants("host")
for key in sorted(set(ab) | set(lag) | set(first) | set(bn) | set(bn_one) | set(splitk) | set(host)):
    v = ab.get(key, {})
    stock, custom, previous = v.get("stock"), v.get("custom"), v.get("custom+PerTensorUpdates+SeparateRelu+SeparateMovingStatistics+AlwaysSplitK+BatchNormTwoPass+SeparateHeadRelu")
    separate_relu = v.get("custom+SeparateRelu")
    environment = next(t[key]["environment"] for t in (ab, lag, first, bn, bn_one, splitk, host) if key in t)
    s = summary["presets"][key] = {
        "storageBuffersPerStage": environment.get("storageBuffersPerStage"),
        "adapter": environment.get("adapter"),
        "variants": {name: fig for name, fig in v.items() if name != "environment"},
    }
    if custom:
        s["customOverStock"] = ratio(custom["imagesPerSecond"], stock and stock["imagesPerSecond"])
        s["newOverPreviousDefault"] = ratio(custom["imagesPerSecond"], previous and previous["imagesPerSecond"])
        s["dispatches"] = {
            "stock": stock and stock["dispatchesPerStep"],
            "previous": previous and previous["dispatchesPerStep"],
            "separateRelu": separate_relu and separate_relu["dispatchesPerStep"],
            "new": custom["dispatchesPerStep"],
        }
        s["reluFusionOverSeparate"] = ratio(custom["imagesPerSecond"], separate_relu and separate_relu["imagesPerSecond"])
    if key in lag and lag[key].get("custom"):
        fused, plain = lag[key]["custom"], lag[key].get("custom+SeparateLagSums")
        s["keyLag"] = {
            "fusedImagesPerSecond": fused["imagesPerSecond"],
            "separateImagesPerSecond": plain and plain["imagesPerSecond"],
            "fusedOverSeparate": ratio(fused["imagesPerSecond"], plain and plain["imagesPerSecond"]),
            "dispatches": {"fused": fused["dispatchesPerStep"], "separate": plain and plain["dispatchesPerStep"]},
            # Another process than the ab run's: the lag's cost, roughly.
            "fusedOverNoMeasurement": ratio(fused["imagesPerSecond"], custom and custom["imagesPerSecond"]),
        }
    if key in first and first[key].get("custom"):
        s["firstStepFreshProcessMs"] = first[key]["custom"]["firstStepMs"]
        s["compileFreshProcessMs"] = first[key]["custom"]["compileMs"]
    if key in pre and pre[key].get("custom"):
        c = pre[key]["custom"]
        s["precompileMs"], s["firstStepAfterPrecompileMs"] = c["precompileMs"], c["firstStepMs"]
    if key in splitk and splitk[key].get("custom+AlwaysSplitK"):
        threshold, always = splitk[key]["custom"], splitk[key]["custom+AlwaysSplitK"]
        s["splitKThreshold"] = {
            "thresholdOverAlwaysSplit": ratio(threshold["imagesPerSecond"], always["imagesPerSecond"]),
            "dispatches": {"threshold": threshold["dispatchesPerStep"], "alwaysSplit": always["dispatchesPerStep"]},
        }
    if key in bn and bn[key].get("custom+BatchNormRowSplit"):
        s["batchNormRowSplitOverDefault"] = ratio(bn[key]["custom+BatchNormRowSplit"]["imagesPerSecond"], bn[key]["custom"]["imagesPerSecond"])
    if key in bn_one and bn_one[key].get("custom"):
        b = bn_one[key]
        fig = lambda name, k: b.get(name) and b[name][k]
        s["batchNorm"] = {
            "variants": {name: f for name, f in b.items() if name != "environment"},
            "movingInPassOverSeparate": ratio(fig("custom", "imagesPerSecond"), fig("custom+SeparateMovingStatistics", "imagesPerSecond")),
            "oneDispatchOverTwoPass": ratio(fig("custom", "imagesPerSecond"), fig("custom+BatchNormTwoPass", "imagesPerSecond")),
            "headReluFusedOverSeparate": ratio(fig("custom", "imagesPerSecond"), fig("custom+SeparateHeadRelu", "imagesPerSecond")),
            "batchNormGpuMsPerStep": {name: fig(name, "batchNormGpuMsPerStep") for name in b if name != "environment"},
            "dispatches": {name: fig(name, "dispatchesPerStep") for name in b if name != "environment"},
        }
    # Host ms (recording and submitting a step) against GPU ms and wall ms: what bounds the step.
    if custom:
        s["hostVsGpuVsWall"] = {"hostMs": custom.get("medianHostMs"), "gpuMs": custom.get("gpuMsPerStep"), "wallMs": custom.get("medianStepMs"), "hostMsPerDispatch": custom.get("hostMsPerDispatch")}
    if key in host and host[key].get("custom+BindingCache"):
        plain, cached = host[key]["custom"], host[key]["custom+BindingCache"]
        s["bindingCache"] = {
            "cachedOverDefault": ratio(cached["imagesPerSecond"], plain["imagesPerSecond"]),
            "hostMs": {"default": plain["medianHostMs"], "cached": cached["medianHostMs"]},
            "hostMsPerDispatch": {"default": plain["hostMsPerDispatch"], "cached": cached["hostMsPerDispatch"]},
            "wallMs": {"default": plain["medianStepMs"], "cached": cached["medianStepMs"]},
        }
# Lever 2, the convolutions: which variant runs each phase fastest. GPU ms by the tfjs kernel the
# phase is (whoever's program runs it: a replacement keeps the kernel's name), from the profiled
# step; the programs that ran it from the dispatch count, told apart by name (a bundle suffixes
# tfjs's class names with a digit: Conv2DMMProgram2).
CONV_PHASES = {
    "forward": (("Conv2D", "FusedConv2D"), r"^(Conv2D(MM|Naive)?Program|Im2ColProgram)\d*$|^MocoConv2D(?!Backprop)"),
    "inputGradient": (("Conv2DBackpropInput",), r"^Conv2DDerInput(MM)?Program\d*$|^MocoConv2DBackpropInput"),
    "weightGradient": (("Conv2DBackpropFilter",), r"^Conv2DDerFilterProgram\d*$|^MocoConv2DBackpropFilter|^MocoSplitKSum"),
}


def conv_figures(v):
    by_kernel, by_program = v.get("gpuMsByKernel") or {}, v.get("dispatchesByProgram") or {}
    gpu = {phase: round(sum(by_kernel.get(k, 0) for k in kernels), 3) if by_kernel else None for phase, (kernels, _) in CONV_PHASES.items()}
    programs = {phase: {p: n for p, n in by_program.items() if re.search(pattern, p)} for phase, (_, pattern) in CONV_PHASES.items()}
    return gpu, programs


CONV_KERNEL_PHASES = {"Conv2D": "forward", "FusedConv2D": "forward", "Conv2DBackpropInput": "inputGradient", "Conv2DBackpropFilter": "weightGradient"}


def conv_layer(c):
    """(phase, x's shape, the filter's, stride) of the convolution that a kernel call of the bench's
    gpuMsByConvolution belongs to. Inputs in tfjs's order: Conv2D x, filter -> y; Conv2DBackpropInput
    dy, filter -> dx; Conv2DBackpropFilter x, dy -> dW. The stride is read from the shapes, with
    'same' padding (every convolution of our encoders): the least s with ceil(H / s) = OH."""
    kernel, ins, out = c["kernel"], c["inputShapes"], c["outputShape"]
    if kernel == "Conv2DBackpropInput":
        x, w, y = out, ins[1], ins[0]
    elif kernel == "Conv2DBackpropFilter":
        x, w, y = ins[0], out, ins[1]
    else:
        x, w, y = ins[0], ins[1], out
    stride = next((s for s in range(1, x[1] + 1) if -(-x[1] // s) == y[1] and -(-x[2] // s) == y[2]), None)
    return CONV_KERNEL_PHASES[kernel], x, w, stride


def conv_shapes(variants):
    """Per convolution shape (phase, x, filter, stride; in the order the first variant ran them), its
    calls in a step and each variant's GPU ms and programs, and the fastest variant."""
    shapes = {}
    for name, v in variants.items():
        for c in v.get("gpuMsByConvolution") or []:
            phase, x, w, stride = conv_layer(c)
            s = shapes.setdefault(json.dumps([phase, x, w, stride]), {"phase": phase, "x": x, "filter": w, "stride": stride, "calls": c["calls"], "gpuMs": {}, "programs": {}})
            s["gpuMs"][name] = round(s["gpuMs"].get(name, 0) + c["ms"], 4)
            programs = s["programs"].setdefault(name, {})
            for p, ms in c["programs"].items():
                programs[p] = round(programs.get(p, 0) + ms, 4)
    order = list(CONV_PHASES)
    out = sorted(shapes.values(), key=lambda s: order.index(s["phase"]))
    for s in out:
        name, ms = min(s["gpuMs"].items(), key=lambda x: x[1])
        custom = s["gpuMs"].get("custom")
        s["fastest"] = {
            "variant": name,
            "gpuMs": ms,
            "customGpuMs": custom,
            "overCustom": ratio(ms, custom),
            # The same programs as custom's: a difference of one profiled step's noise, not a win.
            "sameProgramsAsCustom": name != "custom" and custom is not None and set(s["programs"][name]) == set(s["programs"].get("custom", {})),
        }
    return out


summary["conv"] = {}
for f in files("conv"):
    for run in f["runs"]:
        r = run["result"]
        custom = next((v for v in r["variants"] if v["variant"] == "custom"), None)
        table = {}
        for v in r["variants"]:
            gpu, programs = conv_figures(v)
            table[v["variant"]] = {
                "imagesPerSecond": v["imagesPerSecond"],
                "overCustom": ratio(v["imagesPerSecond"], custom and custom["imagesPerSecond"]),
                "gpuMsPerStep": v["gpuMsPerStep"],
                "convGpuMs": gpu,
                "programs": programs,
                "dispatchesPerStep": v["dispatchesPerStep"],
            }
        fastest = {}
        for phase in CONV_PHASES:
            timed = [(name, t) for name, t in table.items() if t["convGpuMs"][phase] is not None]
            if timed:
                name, t = min(timed, key=lambda x: x[1]["convGpuMs"][phase])
                base = table.get("custom")
                fastest[phase] = {
                    "variant": name,
                    "gpuMs": t["convGpuMs"][phase],
                    "customGpuMs": base and base["convGpuMs"][phase],
                    "programs": t["programs"][phase],
                    # The same programs as custom's: a difference of one profiled step's noise, not a win.
                    "sameProgramsAsCustom": name != "custom" and bool(base) and t["programs"][phase] == base["programs"][phase],
                }
        rated = [(name, t) for name, t in table.items() if t["imagesPerSecond"]]
        if rated:
            name, t = max(rated, key=lambda x: x[1]["imagesPerSecond"])
            fastest["step"] = {"variant": name, "imagesPerSecond": t["imagesPerSecond"], "overCustom": t["overCustom"]}
        shapes = conv_shapes({v["variant"]: v for v in r["variants"]})
        # Each phase with every shape on its fastest variant (a choice of tiles per shape) against the
        # fastest single variant's: what choosing per shape would gain.
        per_shape = {
            phase: {"gpuMs": round(sum(s["fastest"]["gpuMs"] for s in shapes if s["phase"] == phase), 3), "fastestVariantGpuMs": fastest[phase]["gpuMs"]}
            for phase in CONV_PHASES
            if phase in fastest and any(s["phase"] == phase for s in shapes)
        }
        summary["conv"][f"{r['preset']}:{r['batch']}"] = {
            "adapter": r["environment"].get("adapter"),
            "gpuTimer": r["environment"].get("gpuTimer"),
            "fastest": fastest,
            "variants": table,
            "shapes": shapes,
            "perShapeChoice": per_shape,
        }
json.dump(summary, sys.stdout, indent=1)
print()
