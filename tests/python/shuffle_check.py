"""Test helper, run with torchrun on 2+ processes (gloo): MoCo's shuffle BN across processes
(train_ddp.MoCo.batch_shuffle_ddp / batch_unshuffle_ddp, as the official builder.py) mixes the
processes' images before the key encoder and puts every key back in its place afterwards."""
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
import moco_torch  # noqa: E402
import train_ddp  # noqa: E402

dist.init_process_group('gloo')
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(1)
net = moco_torch.build('tiny')
moco = train_ddp.MoCo(net, moco_torch.build('tiny'), 128, 32, 0.99, 0.2)
per = 8
# Image i of process r is filled with the value r·per + i: its identity survives any reordering.
x = (rank * per + torch.arange(per, dtype=torch.float32)).view(per, 1, 1, 1).expand(per, 3, 32, 32).contiguous()
shuffled, idx_unshuffle = moco.batch_shuffle_ddp(x)
ids = shuffled[:, 0, 0, 0].long()
everything = train_ddp.concat_all_gather(ids)
assert sorted(everything.tolist()) == list(range(world * per)), f'the shuffled batches are not a permutation: {everything.tolist()}'
from_others = int(((ids // per) != rank).sum())
back = moco.batch_unshuffle_ddp(shuffled, idx_unshuffle)
assert torch.equal(back, x), f'process {rank}: unshuffle did not restore the batch'
totals = torch.tensor([from_others])
dist.all_reduce(totals)
if rank == 0:
    print(f'shuffle BN: {world} processes, {int(totals)} of {world * per} images encoded on another process than their own; unshuffle restores every batch')
    assert int(totals) > 0, 'no image changed process: keys are not shuffled across processes'
dist.destroy_process_group()
