#!/bin/bash
# After gpu-all.sh's device call: its files laid out for a commit, and a digest of the figures the
# docs need (docs/GPU-SESSION.md, "After the call").
#   bash scripts/gpu-all-unpack.sh FILES_AT docs/runs/DATE-h200-all [--ship-replay]
# FILES_AT: the folder the run tool's answer names (files_at). RUNS gets session.txt, perf/ (the bench
# JSON, summary.json, the perf steps' log), replay/ (its log and run.jsonl) and learning/ (each run's
# .txt and .jsonl); logs are renamed .txt (.gitignore drops *.log). --ship-replay moves the recording
# into public/replay/ and adds its entry to public/replay/index.json (replacing one of the same file);
# without it the recording is dropped (a rehearsal's is not one to ship).
set -eu
from=${1:?usage: gpu-all-unpack.sh FILES_AT RUNS_DIR [--ship-replay]}
runs=${2:?usage: gpu-all-unpack.sh FILES_AT RUNS_DIR [--ship-replay]}
ship=${3:-}
mkdir -p "$runs"
cp "$from/session.txt" "$runs/session.txt" 2>/dev/null || echo "no session.txt in $from"
for part in perf replay learning; do
  if [ ! -f "$from/$part.tar.gz" ]; then echo "$part: no $part.tar.gz (the part never packed: see session.txt)"; continue; fi
  mkdir -p "$runs/$part"
  # perf.tar.gz and replay.tar.gz hold their folder; learning.tar.gz holds its folder's contents.
  if [ $part = learning ]; then tar -xzf "$from/$part.tar.gz" -C "$runs/$part"; else tar -xzf "$from/$part.tar.gz" -C "$runs/$part" --strip-components=1; fi
  find "$runs/$part" -name '*.log' -exec sh -c 'mv "$1" "${1%.log}.txt"' _ {} \;
  rm -f "$runs/$part/.start"
done
for zip in "$runs"/replay/moco-replay-*.zip; do
  [ -f "$zip" ] || continue
  if [ "$ship" = --ship-replay ]; then
    mkdir -p public/replay && mv "$zip" public/replay/
    python3 - "$runs/replay/index.json" public/replay/index.json <<'PY'
import json, os, sys
new, index = sys.argv[1], sys.argv[2]
entries = json.load(open(index))['recordings'] if os.path.exists(index) else []
for e in json.load(open(new))['recordings']:
    entries = [x for x in entries if x['file'] != e['file']] + [e]
json.dump({'recordings': entries}, open(index, 'w'), indent=2)
open(index, 'a').write('\n')
print(f'{index}: {len(entries)} recording(s)')
PY
  else rm "$zip"; fi
done
python3 - "$runs" <<'PY'
import glob, json, os, re, sys
runs = sys.argv[1]
print(f'== digest of {runs}')
s = os.path.join(runs, 'perf', 'summary.json')
if os.path.exists(s):
    summary = json.load(open(s))
    c = summary.get('checks')
    print(f"kernel checks: {c.get('passed')} of {c.get('total')} pass; worst {c.get('worst')}; failed {c.get('failed')}"
          if c else 'kernel checks: none (the step did not finish: perf/session.txt)')
    for preset, p in (summary.get('presets') or {}).items():
        v = p.get('variants', {})
        ips = {k: float(f"{x['imagesPerSecond']:.4g}") for k, x in v.items() if x.get('imagesPerSecond')}
        print(f"{preset} ({p.get('adapter')}): img/s {ips}; custom/stock {p.get('customOverStock')}; "
              f"new/previous {p.get('newOverPreviousDefault')}; dispatches {p.get('dispatches')}")
    # Lever 2: per variant img/s ÷ custom and GPU ms of each convolution phase, then each phase's fastest.
    ms = lambda x: 'n/a' if x is None else f'{x:.1f}'
    times = lambda x: 'n/a' if x is None else f'×{x:.3g}'
    rate = lambda x: 'n/a' if x is None else f'{x:.4g}'
    for preset, c in (summary.get('conv') or {}).items():
        print(f"conv {preset} ({c.get('adapter')}, GPU ms per step: forward / input gradient / weight gradient):")
        for name, v in c['variants'].items():
            g = v['convGpuMs']
            programs = ', '.join(p for phase in v['programs'].values() for p in phase)
            print(f"  {name}: {rate(v['imagesPerSecond'])} img/s ({times(v['overCustom'])} custom); {ms(g['forward'])} / {ms(g['inputGradient'])} / {ms(g['weightGradient'])} ms [{programs}]")
        f = c.get('fastest', {})
        phases = [f"{phase} {x['variant']} {ms(x['gpuMs'])} ms (custom {ms(x['customGpuMs'])}; {', '.join(x['programs'])}{', same programs as custom: noise' if x.get('sameProgramsAsCustom') else ''})"
                  for phase, x in f.items() if phase != 'step']
        step = f.get('step')
        print(f"  fastest: {'; '.join(phases)}" + (f"; whole step {step['variant']} ({times(step['overCustom'])} custom)" if step else ''))
        # Per convolution shape (the choice of tiles per shape): its fastest variant, and each phase so chosen.
        dims = lambda s: '×'.join(map(str, s))
        for x in c.get('shapes') or []:
            f = x['fastest']
            print(f"  {x['phase']} x {dims(x['x'])}, filter {dims(x['filter'])}, stride {x['stride']} (×{x['calls']}): {f['variant']} {ms(f['gpuMs'])} ms "
                  f"(custom {ms(f['customGpuMs'])}; {', '.join(x['programs'][f['variant']])}{', same programs as custom: noise' if f['sameProgramsAsCustom'] else ''})")
        for phase, x in (c.get('perShapeChoice') or {}).items():
            print(f"  {phase} with each shape on its fastest: {ms(x['gpuMs'])} ms (fastest variant {ms(x['fastestVariantGpuMs'])})")
else:
    print('perf: no summary.json')
index = os.path.join(runs, 'replay', 'index.json')
if os.path.exists(index):
    for e in json.load(open(index))['recordings']: print('replay:', e['description'])
else:
    print('replay: no recording (replay/session.txt says why)')
for txt in sorted(glob.glob(os.path.join(runs, 'learning', '*.txt'))):
    name = os.path.basename(txt)[:-4]
    if name in ('session', 'runs'): continue
    lines = open(txt, errors='replace').read().splitlines()
    head = [l for l in lines if re.match(r'knn@\d+ \(head\) step', l)]
    back = [l for l in lines if re.match(r'knn@\d+ step', l)]
    trained = [l for l in lines if l.startswith('trained ')]
    pick = lambda ls: re.sub(r' \(bank.*', '', ls[-1].split('step ', 1)[1]) if ls else '–'
    print(f"learning {name}: kNN head {pick(head)}, backbone {pick(back)}; {trained[-1] if trained else 'not finished'}")
PY
