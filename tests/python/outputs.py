"""Test helper: PyTorch's outputs of an exported encoder on a fixed batch, for the cross-framework tests.

    outputs.py MODEL.safetensors IMAGES.bin OUT_DIR [--sgd-step SAVED.safetensors] [--naive-padding]

IMAGES.bin holds uint8 NHWC 32×32 RGB images. Writes OUT_DIR/features.bin and OUT_DIR/embedding.bin
(float32, eval mode). With --sgd-step, first changes the weights by one SGD step in training mode
(batch-norm statistics move too) on a contrastive-style loss, and saves them with moco_torch.save.
With --naive-padding, the convolutions pad symmetrically (PyTorch's padding=k//2), as a port by hand
would: the check that TensorFlow's 'same' padding is what makes the outputs agree.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
import moco_torch  # noqa: E402


def main():
    model, images, out = sys.argv[1:4]
    if '--naive-padding' in sys.argv:
        moco_torch.Conv2dSame.forward = lambda self, x: torch.nn.functional.conv2d(x, self.weight, None, self.stride, self.kernel_size[0] // 2)
    net = moco_torch.load(model)
    raw = np.fromfile(images, dtype=np.uint8).reshape(-1, 32, 32, 3)
    x = moco_torch.preprocess(raw)
    if '--sgd-step' in sys.argv:
        saved = sys.argv[sys.argv.index('--sgd-step') + 1]
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
        q, k = net.embed(x), net.embed(torch.flip(x, dims=[3]))
        loss = torch.nn.functional.cross_entropy(q @ k.T / 0.2, torch.arange(len(x)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        moco_torch.save(saved, net)
        net.eval()
    with torch.no_grad():
        net.features(x).numpy().astype('<f4').tofile(os.path.join(out, 'features.bin'))
        net.embed(x).numpy().astype('<f4').tofile(os.path.join(out, 'embedding.bin'))


if __name__ == '__main__':
    main()
