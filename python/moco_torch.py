"""The encoders of MoCo in the browser (src/moco/resnet.ts) in PyTorch, for weights exported by the
app or by `npm run train -- --save`: same ResNet presets, same state_dict names, TensorFlow's
'same' padding (a stride-2 convolution pads the bottom and right only), batch-norm epsilon 1e-5 and
momentum 0.1, and the app's test transform. Needs only torch and numpy.

    import moco_torch
    net = moco_torch.load('model.safetensors')           # preset and head read from the file
    x = moco_torch.preprocess(images_uint8_nhwc)           # [N, 3, 32, 32], normalised
    features, embedding = net.features(x), net.embed(x)    # pooled backbone; L2-normalised head
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    'tiny': ([4, 8], [1, 1]),
    'resnet8': ([16, 32, 64], [1, 1, 1]),
    'resnet8-wide': ([32, 64, 128], [1, 1, 1]),
    'resnet14': ([32, 64, 128], [2, 2, 2]),
    'resnet18': ([64, 128, 256, 512], [2, 2, 2, 2]),
}
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.1
# The official MoCo CIFAR demo's normalisation, as src/moco/augment.ts.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.201)


class Conv2dSame(nn.Conv2d):
    """A bias-free convolution with TensorFlow's 'same' padding: the output is ceil(input / stride)
    and an odd total padding puts the extra row and column at the bottom and right."""

    def __init__(self, cin, cout, kernel, stride):
        super().__init__(cin, cout, kernel, stride=stride, padding=0, bias=False)

    def forward(self, x):
        pads = []
        for size, k, s in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class MocoResNet(nn.Module):
    """ResNet for 32×32 inputs: 3×3 stem, basic blocks, global average pool, projection head
    (linear for MoCo v1, 2-layer MLP for v2). Parameter names match the exported safetensors."""

    def __init__(self, widths, blocks, head='mlp', embedding_dim=128):
        super().__init__()
        self.widths, self.blocks, self.head, self.embedding_dim = list(widths), list(blocks), head, embedding_dim
        self.stem_conv = Conv2dSame(3, widths[0], 3, 1)
        self.stem_bn = self._bn(widths[0])
        self.block_names = []
        cin = widths[0]
        for s, (width, count) in enumerate(zip(widths, blocks)):
            for b in range(count):
                stride = 2 if s > 0 and b == 0 else 1
                name = f's{s}b{b}'
                setattr(self, f'{name}_conv1', Conv2dSame(cin, width, 3, stride))
                setattr(self, f'{name}_bn1', self._bn(width))
                setattr(self, f'{name}_conv2', Conv2dSame(width, width, 3, 1))
                setattr(self, f'{name}_bn2', self._bn(width))
                down = stride != 1 or cin != width
                if down:
                    setattr(self, f'{name}_down_conv', Conv2dSame(cin, width, 1, stride))
                    setattr(self, f'{name}_down_bn', self._bn(width))
                self.block_names.append((name, down))
                cin = width
        if head == 'mlp':
            self.head_fc1 = nn.Linear(cin, cin)
            self.head_fc2 = nn.Linear(cin, embedding_dim)
        else:
            self.head_fc = nn.Linear(cin, embedding_dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He initialisation over fan-out, as the TensorFlow.js encoder and torchvision.
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    @staticmethod
    def _bn(c):
        return nn.BatchNorm2d(c, eps=BN_EPSILON, momentum=BN_MOMENTUM)

    def backbone(self, x):
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        for name, down in self.block_names:
            layer = lambda suffix: getattr(self, f'{name}_{suffix}')  # noqa: E731
            y = F.relu(layer('bn1')(layer('conv1')(x)))
            y = layer('bn2')(layer('conv2')(y))
            shortcut = layer('down_bn')(layer('down_conv')(x)) if down else x
            x = F.relu(y + shortcut)
        return x.mean(dim=(2, 3))

    def project(self, features):
        if self.head == 'mlp':
            return self.head_fc2(F.relu(self.head_fc1(features)))
        return self.head_fc(features)

    def forward(self, x):
        """Head output before L2 normalisation (what the TensorFlow.js model.json outputs)."""
        return self.project(self.backbone(x))

    def features(self, x):
        """Pooled backbone features (not normalised; the kNN monitor L2-normalises them)."""
        return self.backbone(x)

    def embed(self, x):
        """MoCo's embedding: the head's output, L2-normalised."""
        return F.normalize(self.forward(x), dim=1)


def build(preset='resnet8', head='mlp', embedding_dim=128):
    widths, blocks = PRESETS[preset]
    return MocoResNet(widths, blocks, head, embedding_dim)


def preprocess(images, mean=CIFAR_MEAN, std=CIFAR_STD):
    """The app's test transform: uint8 (or [0, 1] float) NHWC images → normalised NCHW float32."""
    x = torch.as_tensor(np.asarray(images))
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    x = (x - torch.tensor(mean)) / torch.tensor(std)
    return x.permute(0, 3, 1, 2).contiguous()


# safetensors: 8-byte little-endian header length, JSON header, raw little-endian tensors.
_DTYPES = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """(state_dict of torch tensors, metadata dict)."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop('__metadata__', {})
    tensors = {}
    for name, e in header.items():
        begin, end = e['data_offsets']
        arr = np.frombuffer(data, dtype=np.dtype(_DTYPES[e['dtype']]).newbyteorder('<'), count=int(np.prod(e['shape'], dtype=np.int64)), offset=8 + n + begin)
        tensors[name] = torch.from_numpy(arr.reshape(e['shape']).astype(arr.dtype.newbyteorder('='), copy=True))
    return tensors, meta


def write_safetensors(path, state_dict, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name, t in state_dict.items():
        arr = t.detach().cpu().contiguous().numpy()
        arr = arr.astype(arr.dtype.newbyteorder('<'), copy=False)
        blob = arr.tobytes()
        header[name] = {'dtype': _NAMES[np.dtype(arr.dtype.newbyteorder('='))], 'shape': list(arr.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def architecture_of(state_dict):
    """(widths, blocks, head, embedding_dim) read off the tensors' shapes."""
    widths, blocks, s = [], [], 0
    while f's{s}b0_conv1.weight' in state_dict:
        widths.append(state_dict[f's{s}b0_conv1.weight'].shape[0])
        b = 0
        while f's{s}b{b}_conv1.weight' in state_dict:
            b += 1
        blocks.append(b)
        s += 1
    head = 'mlp' if 'head_fc1.weight' in state_dict else 'linear'
    last = state_dict['head_fc2.bias' if head == 'mlp' else 'head_fc.bias']
    return widths, blocks, head, last.shape[0]


def load(path):
    """The encoder stored in a safetensors file written by the app, `npm run train -- --save`,
    `save()` or train_ddp.py, in eval mode."""
    tensors, _ = read_safetensors(path)
    tensors = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in tensors.items()}
    net = MocoResNet(*architecture_of(tensors))
    missing, unexpected = net.load_state_dict({k: v for k, v in tensors.items()}, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise ValueError(f'{path}: missing tensors {missing}, unexpected tensors {unexpected}')
    return net.eval()


def save(path, net, **metadata):
    """Writes the encoder's state_dict (without batch-norm's counters) as safetensors."""
    state = {k: v for k, v in net.state_dict().items() if not k.endswith('num_batches_tracked')}
    preset = next((p for p, (w, b) in PRESETS.items() if w == net.widths and b == net.blocks), 'custom')
    write_safetensors(path, state, {'format': 'moco-browser-model', 'preset': preset, 'mocoVersion': 'v2' if net.head == 'mlp' else 'v1', **metadata})
