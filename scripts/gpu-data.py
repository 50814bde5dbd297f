#!/usr/bin/env python3
"""The learning runs' CIFAR-10 files for a device call, in what fits its 64 MiB working tree.

train_10k.bin's records are round-robin by class (record 10·k + c is image k of class c), so its first
5,000 records are exactly the first 500 images of each class: the app's CIFAR-10 sample
(public/cifar10-sample/, lossless PNG, tracked, so it travels anyway). test_1k.bin is the sample's
test split. Only records 5,000–9,999 need to travel: 10 MB (xz with a delta filter over the pixel
rows), where the two files xz'd whole take 26 MB and put the tree over the limit.

  here:           python3 scripts/gpu-data.py pack ../shared/data/cifar10 .gpu/data
  on the machine: python3 scripts/gpu-data.py unpack .gpu/data /tmp/gpu-data   (gpu-common.sh: unpack_data)

`pack` checks that the sample decodes to exactly those records first; `unpack` rebuilds both files and
checks their SHA-256 against the originals'. Needs numpy (both machines have it); the PNGs are decoded
here with zlib and numpy, the same code on both machines (under a second each).
"""
import hashlib
import json
import lzma
import os
import sys
import zlib

import numpy as np

RECORD = 3073
SAMPLE = 'public/cifar10-sample'
# Delta over 32 bytes (one pixel row of a colour plane) before LZMA2: 20% smaller than xz alone.
# GPU_DATA_XZ_PRESET (0-9) trades size for time (the tests use 0).
PRESET = int(os.environ['GPU_DATA_XZ_PRESET']) if 'GPU_DATA_XZ_PRESET' in os.environ else 9 | lzma.PRESET_EXTREME
FILTERS = [{'id': lzma.FILTER_DELTA, 'dist': 32}, {'id': lzma.FILTER_LZMA2, 'preset': PRESET}]


def read_png(path):
    """An 8-bit RGB, non-interlaced PNG (what make-cifar-sample.ts writes) as an H×W×3 uint8 array."""
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', f'{path}: not a PNG'
    pos, idat, width, height = 8, [], 0, 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], 'big')
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            width, height = int.from_bytes(body[:4], 'big'), int.from_bytes(body[4:8], 'big')
            assert body[8:13] == bytes([8, 2, 0, 0, 0]), f'{path}: not 8-bit RGB, non-interlaced'
        elif kind == b'IDAT':
            idat.append(body)
        pos += 12 + n
    rows = np.frombuffer(zlib.decompress(b''.join(idat)), np.uint8).reshape(height, width * 3 + 1)
    return unfilter(rows[:, 0], rows[:, 1:].reshape(height, width, 3))


def unfilter(kinds, residuals):
    """PNG's filters reversed (None, Sub, Up, Average, Paeth, per row; 3 bytes a pixel).

    A pixel needs its left, upper and upper-left neighbours decoded, so the pixels of one
    anti-diagonal (y + x constant) are decoded together from the two diagonals before: 1,439 numpy
    steps for an 800×640 image, where Python took one step per byte.
    """
    assert np.all(kinds <= 4), 'unknown PNG filter'
    height, width, _ = residuals.shape
    stride = width + 1
    # Decoded pixels, flat, after a row and a column of zeros: what PNG reads beyond the edges.
    out = np.zeros(((height + 1) * stride, 3), np.int16)
    kinds = kinds.astype(np.intp)[:, None]
    residuals = residuals.astype(np.int16)
    for d in range(height + width - 1):
        ys = np.arange(max(0, d - width + 1), min(height, d + 1))
        xs = d - ys
        at = (ys + 1) * stride + xs + 1
        a, b, c = out[at - 1], out[at - stride], out[at - stride - 1]
        pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        predicted = np.choose(kinds[ys], [np.zeros_like(a), a, b, (a + b) >> 1, paeth])
        out[at] = (residuals[ys, xs] + predicted) & 255
    return out.reshape(height + 1, stride, 3)[1:, 1:].astype(np.uint8)


def sample_records(split, repo='.'):
    """The sample's split as CIFAR records in the binaries' round-robin order."""
    manifest = json.load(open(os.path.join(repo, SAMPLE, 'sample.json')))
    part, classes = manifest[split], manifest['classes']
    per, cols = part['perClass'], part['columns']
    records = np.zeros((per, len(classes), RECORD), np.uint8)
    for c, file in enumerate(part['files']):
        grid = read_png(os.path.join(repo, SAMPLE, file))
        for k in range(per):
            y, x = (k // cols) * 32, (k % cols) * 32
            records[k, c, 0] = c
            records[k, c, 1:] = grid[y:y + 32, x:x + 32].transpose(2, 0, 1).reshape(-1)
    return records.reshape(-1, RECORD).tobytes()


def sha(b):
    return hashlib.sha256(b).hexdigest()


def pack(src, dest):
    train, test = open(os.path.join(src, 'train_10k.bin'), 'rb').read(), open(os.path.join(src, 'test_1k.bin'), 'rb').read()
    head = sample_records('train')
    if train[:len(head)] != head or sample_records('test') != test:
        sys.exit(f'gpu-data.py: {SAMPLE} is not the first records of {src}/train_10k.bin and test_1k.bin: '
                 'xz the two files whole instead (gpu-session.sh header)')
    os.makedirs(dest, exist_ok=True)
    with lzma.open(os.path.join(dest, 'train_10k-rest.bin.xz'), 'wb', format=lzma.FORMAT_XZ, filters=FILTERS) as f:
        f.write(train[len(head):])
    json.dump({'train_10k.bin': {'sha256': sha(train), 'sampleRecords': len(head) // RECORD},
               'test_1k.bin': {'sha256': sha(test)}}, open(os.path.join(dest, 'cifar10.json'), 'w'), indent=1)
    print(f'{dest}: train_10k-rest.bin.xz ({os.path.getsize(os.path.join(dest, "train_10k-rest.bin.xz")) / 1e6:.1f} MB) '
          f'+ the sample\'s {len(head) // RECORD} train and {len(test) // RECORD} test records')


def unpack(src, dest):
    want = json.load(open(os.path.join(src, 'cifar10.json')))
    os.makedirs(dest, exist_ok=True)
    files = {'train_10k.bin': sample_records('train') + lzma.open(os.path.join(src, 'train_10k-rest.bin.xz')).read(),
             'test_1k.bin': sample_records('test')}
    for name, body in files.items():
        if sha(body) != want[name]['sha256']:
            sys.exit(f'gpu-data.py: rebuilt {name} differs from the original (SHA-256)')
        open(os.path.join(dest, name), 'wb').write(body)
        print(f'{dest}/{name}: {len(body) // RECORD} records, SHA-256 as the original')


if __name__ == '__main__':
    if len(sys.argv) != 4 or sys.argv[1] not in ('pack', 'unpack'):
        sys.exit('usage: gpu-data.py pack SRC_DIR .gpu/data | unpack .gpu/data DEST_DIR   (from the repository root)')
    (pack if sys.argv[1] == 'pack' else unpack)(sys.argv[2], sys.argv[3])
