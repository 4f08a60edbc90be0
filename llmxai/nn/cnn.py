"""Two small convolutional networks whose feature maps Grad-CAM reads.

``DigitsCNN`` classifies 1x8x8 images (LeCun et al. 1998, Proc. IEEE,
doi:10.1109/5.726791, in miniature). ``TextCNN`` classifies token sequences with
filters of several widths over the embeddings, ReLU and max over time (Kim 2014,
EMNLP, doi:10.3115/v1/D14-1181). Convolutions are torch's layers.
"""

import torch
from torch import nn

from llmxai import validate
from llmxai.hooks import HookPoint
from llmxai.nn.embedding import Embedding


class DigitsCNN(nn.Module):
    """``forward(x (B, 1, 8, 8)) -> logits (B, n_classes)``.

    conv1 -> ReLU -> conv2 -> ReLU -> 2x2 max pool -> ``head``. Hook points
    ``hook_conv1`` ``(B, c1, 8, 8)`` and ``hook_conv2`` ``(B, c2, 8, 8)`` hold the feature
    maps after ReLU (Grad-CAM's ``A_k``; patchable).
    """

    def __init__(self, n_classes=10, c1=8, c2=16):
        super().__init__()
        for name, v in (("n_classes", n_classes), ("c1", c1), ("c2", c2)):
            validate.positive_int(v, name)
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.hook_conv1 = HookPoint()
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.hook_conv2 = HookPoint()
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(c2 * 4 * 4, n_classes)

    def forward(self, x):
        validate.tensor(x, "x", ndim=4, floating=True)
        validate.same_dtype(x, self.conv1.weight, "x")
        if tuple(x.shape[1:]) != (1, 8, 8) or x.shape[0] == 0:
            raise ValueError(f"x: expected images of shape (B, 1, 8, 8) with B >= 1, got {tuple(x.shape)}")
        A1 = self.hook_conv1(torch.relu(self.conv1(x)))  # (B, c1, 8, 8)
        A2 = self.hook_conv2(torch.relu(self.conv2(A1)))  # (B, c2, 8, 8)
        return self.head(self.pool(A2).flatten(1))  # (B, n_classes)


class TextCNN(nn.Module):
    """``forward(ids (B, T), lengths=None) -> logits (B, n_classes)``; padding id 0.

    One ``Conv1d`` per kernel size ``k`` gives feature maps ``(B, n_filters, T - k + 1)``
    (hook points ``hook_conv{i}``, after ReLU); each filter keeps its maximum over the
    windows that lie inside the real tokens, the maxima are concatenated
    (``hook_pooled``) and ``head`` maps them to logits. ``T`` must be at least the largest
    kernel size; with ``lengths``, a sequence shorter than a kernel keeps its first window.
    """

    def __init__(self, vocab_size, n_classes, d_emb, n_filters, kernel_sizes=(2, 3, 4)):
        super().__init__()
        sizes = {"vocab_size": vocab_size, "n_classes": n_classes, "d_emb": d_emb, "n_filters": n_filters}
        for name, v in sizes.items():
            validate.positive_int(v, name)
        kernel_sizes = tuple(kernel_sizes)
        if not kernel_sizes:
            raise ValueError("kernel_sizes: expected at least one kernel size, got none")
        for k in kernel_sizes:
            validate.positive_int(k, "kernel_sizes[i]")
        self.vocab_size, self.n_classes, self.d_emb, self.kernel_sizes = vocab_size, n_classes, d_emb, kernel_sizes
        self.embedding = Embedding(vocab_size, d_emb, padding_idx=0)
        self.hook_embed = HookPoint()
        self.convs = nn.ModuleList(nn.Conv1d(d_emb, n_filters, k) for k in kernel_sizes)
        for i in range(len(kernel_sizes)):
            setattr(self, f"hook_conv{i}", HookPoint())
        self.hook_pooled = HookPoint()
        self.head = nn.Linear(n_filters * len(kernel_sizes), n_classes)

    def embed(self, ids):
        validate.token_ids(ids, "ids", self.vocab_size)
        return self.hook_embed(self.embedding(ids))  # (B, T, d_emb)

    def forward_embedded(self, E, lengths=None):
        validate.embedded(E, self.d_emb, self.embedding.weight, lengths)
        T = E.shape[1]
        if T < max(self.kernel_sizes):
            raise ValueError(f"E: expected at least {max(self.kernel_sizes)} tokens (the widest kernel), got T={T}")
        x = E.transpose(1, 2)  # (B, d_emb, T): Conv1d wants channels first
        pooled = []
        for i, (k, conv) in enumerate(zip(self.kernel_sizes, self.convs)):
            A = getattr(self, f"hook_conv{i}")(torch.relu(conv(x)))  # (B, n_filters, T - k + 1)
            if lengths is not None:
                start = torch.arange(T - k + 1, device=E.device)  # window p covers tokens p .. p + k - 1
                inside = start[None] + k <= lengths.to(E.device).clamp(min=k)[:, None]  # (B, T - k + 1)
                A = A.masked_fill(~inside[:, None], float("-inf"))
            pooled.append(A.amax(dim=-1))  # (B, n_filters)
        return self.head(self.hook_pooled(torch.cat(pooled, dim=-1)))  # (B, n_classes)

    def forward(self, ids, lengths=None):
        E = self.embed(ids)
        return self.forward_embedded(E, lengths)
