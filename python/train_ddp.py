"""Continue MoCo training at scale with PyTorch DistributedDataParallel, from a model exported by
MoCo in the browser (the downloaded zip, a --save directory or a .safetensors file) or from a
checkpoint this script wrote, and save safetensors that the app and `npm run train -- --init` open.

    torchrun --nproc_per_node=8 python/train_ddp.py --init moco-resnet8-v2-step2000.zip \
        --data cifar-10-batches-bin/ --epochs 200 --batch 64 --out run/
    torchrun --nproc_per_node=2 python/train_ddp.py --backend gloo ...   # CPU only

As the official facebookresearch/moco (builder.py): the query encoder in DDP, the momentum encoder
updated from it on every process, shuffle BN across processes (keys gathered, shuffled, encoded,
unshuffled), and a queue fed with the keys of every process. Options and defaults are the app's
(src/moco/config.ts): v1 linear head, T 0.07, constant lr; v2 MLP head, T 0.2, blur, cosine lr;
K 4096, m 0.99, SGD momentum 0.9, weight decay 5e-4, lr 0.06 · global batch / 512.
"""
import argparse
import json
import math
import struct
import os
import sys
import time
import zipfile

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moco_torch  # noqa: E402

IMAGE_BYTES = 32 * 32 * 3


# ---------------------------------------------------------------- data

def read_cifar(path, labels='fine'):
    """uint8 images [N, 32, 32, 3] and labels from a CIFAR-10/100 binary file or a folder of them."""
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith('.bin') and ('data_batch' in n or n == 'train.bin'))
        parts = [read_cifar(os.path.join(path, n), labels) for n in names]
        if not parts:
            raise SystemExit(f'error: --data {path}: no data_batch_*.bin or train.bin in the folder')
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    raw = np.fromfile(path, dtype=np.uint8)
    fits10, fits100 = raw.size % (IMAGE_BYTES + 1) == 0, raw.size % (IMAGE_BYTES + 2) == 0
    cifar100 = (fits100 and not fits10) or (fits100 and os.path.basename(path) in ('train.bin', 'test.bin'))
    if not (fits10 or fits100):
        raise SystemExit(f'error: --data {path}: {raw.size} bytes is not a whole number of CIFAR records')
    header = 2 if cifar100 else 1
    records = raw.reshape(-1, IMAGE_BYTES + header)
    label = records[:, 1 if (cifar100 and labels == 'fine') else 0].astype(np.int64)
    images = records[:, header:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), label


def read_image_folder(path):
    """One sub-folder of images per class; centre square, resized to 32×32 (as the app)."""
    from PIL import Image
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
    images, labels = [], []
    for c, name in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(path, name))):
            try:
                im = Image.open(os.path.join(path, name, f)).convert('RGB')
            except OSError:
                continue
            side = min(im.size)
            left, top = (im.size[0] - side) // 2, (im.size[1] - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((32, 32), Image.BILINEAR)
            images.append(np.asarray(im, dtype=np.uint8))
            labels.append(c)
    if not images:
        raise SystemExit(f'error: --data {path}: no images in class sub-folders')
    return np.stack(images), np.array(labels)


# ---------------------------------------------------------------- augmentation (as src/moco/augment.ts)

def augment(x, cfg, gen):
    """One augmented, normalised view of x ([N, 3, 32, 32] in [0, 1]); MoCo calls it twice, for the query and the key."""
    n = x.shape[0]
    rand = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    # Random resized crop (torchvision's sampling: 10 tries, then the whole image) and flip, as one affine resample.
    scale = torch.empty(n).uniform_(*cfg['crop_scale'], generator=gen)
    logr = torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=gen)
    ratio = torch.exp(logr)
    w = torch.sqrt(scale * ratio).clamp(max=1)
    h = torch.sqrt(scale / ratio).clamp(max=1)
    cx = (rand(n) * (1 - w) + w / 2) * 2 - 1
    cy = (rand(n) * (1 - h) + h / 2) * 2 - 1
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w * flip, cx, h, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)
    # Colour jitter (brightness, contrast, saturation, hue; p 0.8), grayscale (p 0.2).
    gray = lambda t: (0.299 * t[:, 0:1] + 0.587 * t[:, 1:2] + 0.114 * t[:, 2:3])  # noqa: E731
    jitter = (rand(n) < 0.8).float().view(n, 1, 1, 1)
    factor = lambda s: (1 + (rand(n) * 2 - 1) * s).view(n, 1, 1, 1)  # noqa: E731
    y = (x * factor(0.4)).clamp(0, 1)
    m = gray(y).mean(dim=(2, 3), keepdim=True)
    y = ((y - m) * factor(0.4) + m).clamp(0, 1)
    g = gray(y)
    y = ((y - g) * factor(0.4) + g).clamp(0, 1)
    y = hue_rotate(y, (rand(n) * 2 - 1) * 0.1)
    x = jitter * y + (1 - jitter) * x
    to_gray = (rand(n) < 0.2).float().view(n, 1, 1, 1)
    x = to_gray * gray(x).expand_as(x) + (1 - to_gray) * x
    if cfg['blur']:
        sigma = torch.empty(n).uniform_(0.1, 2.0, generator=gen)
        taps = torch.exp(-1 / (2 * sigma ** 2))
        k = torch.stack([taps, torch.ones(n), taps], 1) / (1 + 2 * taps).unsqueeze(1)
        blur = (rand(n) < 0.5).float().view(n, 1, 1, 1)
        y = separable_blur(x, k)
        x = blur * y + (1 - blur) * x
    mean, std = torch.tensor(moco_torch.CIFAR_MEAN).view(1, 3, 1, 1), torch.tensor(moco_torch.CIFAR_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def hue_rotate(x, turns):
    """Rotation of the hue by `turns` of a full circle, in YIQ space (a linear approximation of HSV's)."""
    yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    rgb = torch.linalg.inv(yiq)
    a = turns * 2 * math.pi
    c, s = torch.cos(a), torch.sin(a)
    rot = torch.zeros(len(turns), 3, 3)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = c, -s, s, c
    mat = rgb @ rot @ yiq
    return torch.einsum('nij,njhw->nihw', mat, x).clamp(0, 1)


def separable_blur(x, k):
    n = x.shape[0]
    xp = F.pad(x, [1, 1, 1, 1], mode='reflect')
    kh = k.view(n, 1, 1, 3)
    out = xp[:, :, :, 0:-2] * kh[..., 0:1] + xp[:, :, :, 1:-1] * kh[..., 1:2] + xp[:, :, :, 2:] * kh[..., 2:3]
    kv = k.view(n, 1, 3, 1)
    return out[:, :, 0:-2] * kv[:, :, 0:1] + out[:, :, 1:-1] * kv[:, :, 1:2] + out[:, :, 2:] * kv[:, :, 2:3]


# ---------------------------------------------------------------- MoCo with shuffle BN across processes (builder.py)

@torch.no_grad()
def concat_all_gather(t):
    gathered = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, t, async_op=False)
    return torch.cat(gathered, 0)


class MoCo(nn.Module):
    def __init__(self, encoder_q, encoder_k, dim, K, m, T):
        super().__init__()
        self.K, self.m, self.T = K, m, T
        self.encoder_q, self.encoder_k = encoder_q, encoder_k
        for p in self.encoder_k.parameters():
            p.requires_grad = False
        # The queue starts empty and fills (as the app's); only its filled part gives negatives.
        self.register_buffer('queue', torch.zeros(dim, K))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        self.register_buffer('queue_filled', torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def momentum_update_key_encoder(self):
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.mul_(self.m).add_(pq.detach(), alpha=1 - self.m)

    @torch.no_grad()
    def dequeue_and_enqueue(self, keys):
        keys = concat_all_gather(keys)
        ptr = int(self.queue_ptr)
        idx = (ptr + torch.arange(keys.shape[0], device=keys.device)) % self.K
        self.queue[:, idx] = keys.T
        self.queue_ptr[0] = (ptr + keys.shape[0]) % self.K
        self.queue_filled[0] = min(self.K, int(self.queue_filled) + keys.shape[0])

    @torch.no_grad()
    def batch_shuffle_ddp(self, x):
        x_gather = concat_all_gather(x)
        batch_all = x_gather.shape[0]
        idx_shuffle = torch.randperm(batch_all).to(x.device)
        dist.broadcast(idx_shuffle, src=0)
        idx_unshuffle = torch.argsort(idx_shuffle)
        per = x.shape[0]
        rank = dist.get_rank()
        return x_gather[idx_shuffle.view(-1, per)[rank]], idx_unshuffle

    @torch.no_grad()
    def batch_unshuffle_ddp(self, x, idx_unshuffle):
        x_gather = concat_all_gather(x)
        return x_gather[idx_unshuffle.view(dist.get_world_size(), -1)[dist.get_rank()]]

    def forward(self, im_q, im_k):
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            self.momentum_update_key_encoder()
            im_k, idx_unshuffle = self.batch_shuffle_ddp(im_k)
            k = F.normalize(self.encoder_k(im_k), dim=1)
            k = self.batch_unshuffle_ddp(k, idx_unshuffle)
        l_pos = (q * k).sum(1, keepdim=True)
        filled = int(self.queue_filled)
        l_neg = q @ self.queue[:, :filled].clone().detach()
        logits = torch.cat([l_pos, l_neg], 1) / self.T
        labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        self.dequeue_and_enqueue(k)
        return logits, labels, (l_pos.mean().item(), l_neg.mean().item() if filled else None)


# ---------------------------------------------------------------- loading and saving

def read_init(path):
    """state_dicts of the query encoder and, where the export holds one (the app's download with the
    momentum encoder, `npm run train -- --save-key`: key/model.safetensors), of the momentum encoder
    (else None), from our zip, a --save directory or a .safetensors file."""
    if os.path.isdir(path):
        key = os.path.join(path, 'key', 'model.safetensors')
        return (moco_torch.read_safetensors(os.path.join(path, 'model.safetensors'))[0],
                moco_torch.read_safetensors(key)[0] if os.path.isfile(key) else None)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if 'manifest.json' in names and 'model.safetensors' not in names:
                step = json.loads(z.read('manifest.json')).get('step', 'N')
                raise ValueError(f'a checkpoint of npm run train (or a run the app saved), not exported weights; export its query '
                                 f'and momentum encoders with: npm run train -- --resume {path} --steps {step} --save DIR --save-key')
            query = read_safetensors_bytes(z.read('model.safetensors'))
            key = read_safetensors_bytes(z.read('key/model.safetensors')) if 'key/model.safetensors' in names else None
        return query, key
    return moco_torch.read_safetensors(path)[0], None


def load_init(path):
    """read_init, or an error that names the file and says what --init takes, never a traceback."""
    try:
        return read_init(path)
    except FileNotFoundError as e:
        reason = f'no such file ({e.filename})' if e.filename != path else 'no such file or folder'
    except ValueError as e:
        reason = str(e) if 'checkpoint of npm run train' in str(e) else f'not a model this script reads ({type(e).__name__}: {e})'
    except (OSError, KeyError, struct.error, zipfile.BadZipFile, UnicodeDecodeError) as e:
        reason = f'not a model this script reads ({type(e).__name__}: {e})'
    raise SystemExit(f"error: --init {path}: {reason}; give the app's downloaded zip, a --save directory or a .safetensors file")


def read_safetensors_bytes(data):
    import tempfile
    with tempfile.NamedTemporaryFile(suffix='.safetensors') as f:
        f.write(data)
        f.flush()
        return moco_torch.read_safetensors(f.name)[0]


def learning_rate(step, base, warmup, total, cosine):
    """As src/moco/schedule.ts: linear warm-up, then half a cosine to 0 at `total` (per step)."""
    if step < warmup:
        return base * step / warmup
    if not cosine or total <= warmup:
        return base
    return base * 0.5 * (1 + math.cos(math.pi * min(1, (step - warmup) / (total - warmup))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--init', help="weights to start from: the app's zip, a --save directory or a .safetensors file (with the momentum encoder where it holds key/)")
    p.add_argument('--resume', help='checkpoint.pt written by this script (encoders, queue, optimiser, step)')
    p.add_argument('--preset', default=None, help=f"without --init: {', '.join(moco_torch.PRESETS)} (default resnet8)")
    p.add_argument('--moco', choices=['v1', 'v2'], default=None, help='recipe (default: what --init holds, else v2)')
    p.add_argument('--data', required=True, help='CIFAR-10/100 binary file, a folder of them, or a folder of class sub-folders of images')
    p.add_argument('--labels', choices=['coarse', 'fine'], default='fine')
    p.add_argument('--batch', type=int, default=32, help='images per process and step')
    p.add_argument('--steps', type=int, default=None)
    p.add_argument('--epochs', type=float, default=None)
    p.add_argument('--queue', type=int, default=4096, help='K')
    p.add_argument('--momentum', type=float, default=0.99, help='m')
    p.add_argument('--temperature', type=float, default=None, help='T (default 0.2 v2, 0.07 v1)')
    p.add_argument('--lr', type=float, default=None, help='base lr (default 0.06 · global batch / 512)')
    p.add_argument('--warmup', type=int, default=0)
    p.add_argument('--schedule', choices=['cosine', 'constant'], default=None)
    p.add_argument('--weight-decay', type=float, default=5e-4)
    p.add_argument('--crop-scale', type=float, default=0.2)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--backend', default=None, help='torch.distributed backend (default nccl with CUDA, else gloo)')
    p.add_argument('--log-every', type=int, default=10)
    p.add_argument('--out', required=True, help='folder for model.safetensors, key.safetensors, checkpoint.pt, log.jsonl')
    p.add_argument('--save-every-rank', action='store_true', help='also write each process\'s weights (rank<N>.safetensors), to check they agree')
    a = p.parse_args()

    # The user's files first, before any process group: a wrong path ends with its name, not a hang or a traceback.
    state, key_state = load_init(a.init) if a.init else (None, None)
    for option, path in (('--data', a.data), ('--resume', a.resume)):
        if path is not None and not os.path.exists(path):
            raise SystemExit(f'error: {option} {path}: no such file or folder')
    cuda = torch.cuda.is_available() and a.backend != 'gloo'
    dist.init_process_group(a.backend or ('nccl' if cuda else 'gloo'))
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0))) if cuda else torch.device('cpu')
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(a.seed)

    checkpoint = torch.load(a.resume, map_location='cpu') if a.resume else None
    if checkpoint:
        state, key_state = checkpoint['encoder_q'], checkpoint['encoder_k']
    if state is not None:
        widths, blocks, head, dim = moco_torch.architecture_of(state)
        version = 'v2' if head == 'mlp' else 'v1'
        if a.moco and a.moco != version:
            raise SystemExit(f'error: --init holds a MoCo {version} model ({head} head), not {a.moco}')
        encoder_q, encoder_k = moco_torch.MocoResNet(widths, blocks, head, dim), moco_torch.MocoResNet(widths, blocks, head, dim)
        encoder_q.load_state_dict(state, strict=False)
    else:
        version = a.moco or 'v2'
        encoder_q = moco_torch.build(a.preset or 'resnet8', 'mlp' if version == 'v2' else 'linear')
        encoder_k = moco_torch.build(a.preset or 'resnet8', 'mlp' if version == 'v2' else 'linear')
    # The exported momentum encoder goes on trailing where it was; without one it starts as a copy of
    # the query encoder, as MoCo's does at step 0.
    exported_key = key_state is not None and checkpoint is None
    if exported_key and moco_torch.architecture_of(key_state) != moco_torch.architecture_of(state):
        raise SystemExit(f'error: --init {a.init}: its momentum encoder (key/model.safetensors) is another model than its query encoder')
    # An export has no batch-norm counters (num_batches_tracked), which MoCo does not use.
    encoder_k.load_state_dict(key_state if key_state is not None else encoder_q.state_dict(), strict=not exported_key)
    T = a.temperature if a.temperature is not None else (0.2 if version == 'v2' else 0.07)
    model = MoCo(encoder_q, encoder_k, encoder_q.embedding_dim, a.queue, a.momentum, T)
    if checkpoint:
        if checkpoint['queue'].shape != model.queue.shape:
            raise SystemExit(f"error: --resume {a.resume} has a queue of {checkpoint['queue'].shape[1]} keys of dimension {checkpoint['queue'].shape[0]}; pass --queue {checkpoint['queue'].shape[1]}")
        for name in ('queue', 'queue_ptr', 'queue_filled'):
            getattr(model, name).copy_(checkpoint[name])
    model.to(device)
    model.encoder_q = nn.parallel.DistributedDataParallel(encoder_q, device_ids=[device.index] if cuda else None)

    if os.path.isdir(a.data) and not any(n.endswith('.bin') for n in os.listdir(a.data)):
        images, _ = read_image_folder(a.data)
    else:
        images, _ = read_cifar(a.data, a.labels)
    global_batch = a.batch * world
    if len(images) < global_batch:
        raise SystemExit(f'error: --data has {len(images)} images, fewer than one global batch ({global_batch})')
    per_epoch = len(images) // global_batch
    steps = a.steps if a.steps is not None else max(1, round((a.epochs or 1) * per_epoch))
    base_lr = a.lr if a.lr is not None else 0.06 * global_batch / 512
    cosine = (a.schedule or ('cosine' if version == 'v2' else 'constant')) == 'cosine'
    optimizer = torch.optim.SGD(model.encoder_q.parameters(), lr=base_lr, momentum=0.9, weight_decay=a.weight_decay)
    start = 0
    if checkpoint:
        optimizer.load_state_dict(checkpoint['optimizer'])
        start = checkpoint['step']
    cfg = {'crop_scale': (a.crop_scale, 1.0), 'blur': version == 'v2'}
    gen = torch.Generator().manual_seed(a.seed * 1000 + rank)
    order_gen = torch.Generator().manual_seed(a.seed)  # the same permutation on every process
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, 'log.jsonl'), 'a') if rank == 0 else None
    if rank == 0:
        print(f'MoCo {version} · widths {"/".join(map(str, encoder_q.widths))} · {world} processes × batch {a.batch} · K {a.queue} · m {a.momentum} · T {T} · '
              f'lr {base_lr:g} {"cosine" if cosine else "constant"} · {len(images)} images · steps {start}→{start + steps}', flush=True)
    model.train()
    order = torch.randperm(len(images), generator=order_gen)
    t0 = time.time()
    for step in range(start, start + steps):
        i = step % per_epoch
        if i == 0 and step > start:
            order = torch.randperm(len(images), generator=order_gen)
        idx = order[i * global_batch + rank * a.batch: i * global_batch + (rank + 1) * a.batch]
        x = torch.from_numpy(images[idx.numpy()]).permute(0, 3, 1, 2).float() / 255
        im_q, im_k = augment(x, cfg, gen).to(device), augment(x, cfg, gen).to(device)
        lr = learning_rate(step, base_lr, a.warmup, start + steps, cosine)
        for group in optimizer.param_groups:
            group['lr'] = lr
        logits, labels, (pos, neg) = model(im_q, im_k)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if rank == 0 and ((step + 1) % a.log_every == 0 or step + 1 == start + steps):
            record = {'step': step + 1, 'loss': loss.item(), 'contrastiveAccuracy': (logits.argmax(1) == 0).float().mean().item(),
                      'meanPositiveSimilarity': pos, 'meanNegativeSimilarity': neg, 'queueFilled': int(model.queue_filled),
                      'queueCapacity': a.queue, 'learningRate': lr, 'imagesPerSecond': (step + 1 - start) * global_batch / (time.time() - t0)}
            print(f"step {record['step']:5d}  loss {record['loss']:.4f}  ctr-acc {100 * record['contrastiveAccuracy']:5.1f}%  "
                  f"queue {record['queueFilled']}/{a.queue}  lr {lr:.2e}  {record['imagesPerSecond']:.1f} img/s", flush=True)
            log.write(json.dumps(record) + '\n')
            log.flush()

    meta = {'step': start + steps, 'trainedWith': f'python/train_ddp.py, {world} processes'}
    if a.save_every_rank:
        moco_torch.save(os.path.join(a.out, f'rank{rank}.safetensors'), encoder_q, encoder='moco_query_encoder', **meta)
        moco_torch.save(os.path.join(a.out, f'rank{rank}-key.safetensors'), encoder_k, encoder='moco_key_encoder', **meta)
    if rank == 0:
        moco_torch.save(os.path.join(a.out, 'model.safetensors'), encoder_q, encoder='moco_query_encoder', **meta)
        moco_torch.save(os.path.join(a.out, 'key.safetensors'), encoder_k, encoder='moco_key_encoder', **meta)
        torch.save({'encoder_q': encoder_q.state_dict(), 'encoder_k': encoder_k.state_dict(), 'queue': model.queue, 'queue_ptr': model.queue_ptr,
                    'queue_filled': model.queue_filled, 'optimizer': optimizer.state_dict(), 'step': start + steps}, os.path.join(a.out, 'checkpoint.pt'))
        print(f'saved {os.path.join(a.out, "model.safetensors")} (query encoder; open it with npm run train -- --init {a.out}), key.safetensors, checkpoint.pt', flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == '__main__':
    main()
