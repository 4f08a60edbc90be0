"""Lesson 12 (Grad-CAM): the map from activations and gradients, Grad-CAM at a hook point of a
model, and the class activation map (CAM) of a global-average-pool-then-linear head."""

import torch
from torch import nn

from llmxai.device import generator
from llmxai.hooks import HookPoint
from llmxai.lesson_checks.common import check_own_work, close, passed, run, tensor_of_shape

_READY = ("grad_cam", "LayerGradCam", "GuidedGradCam", "GradCAM", "attribute")


def _library():
    from llmxai import explain

    return (explain.grad_cam,)


def _map(A, g, *, alpha="positions", relu="after", channels="sum"):
    pos = tuple(range(2, A.dim()))
    if alpha == "positions":
        a = g.mean(dim=pos, keepdim=True)
    elif alpha == "sum":
        a = g.sum(dim=pos, keepdim=True)
    elif alpha == "channels":
        a = g.mean(dim=1, keepdim=True)
    else:  # no averaging: gradient x activation
        a = g
    if relu == "weights":
        a = torch.relu(a)
    weighted = a * A
    s = weighted.sum(1) if channels == "sum" else weighted.mean(1)
    return torch.relu(s) if relu in ("after", "weights") else s


def check_grad_cam_map(grad_cam_map, seed=0):
    """Check ``grad_cam_map(A (B, K, H, W), g (B, K, H, W)) -> (B, H, W)``: ``alpha_k`` = the mean of
    ``g_k`` over the positions, the map ``ReLU(sum_k alpha_k A_k)``."""
    check_own_work(grad_cam_map, forbidden=_READY, library=_library(), exercise="grad_cam_map")
    gen = generator(seed + 400)
    B, K, H, W = 3, 6, 4, 5
    A = torch.relu(torch.randn(B, K, H, W, generator=gen, dtype=torch.float64) + 0.3)  # after a ReLU
    g = torch.randn(B, K, H, W, generator=gen, dtype=torch.float64) + 0.2 * torch.randn(
        B, K, 1, 1, generator=gen, dtype=torch.float64)
    got = run(grad_cam_map, A.clone(), g.clone())
    tensor_of_shape(got, (B, H, W), "the maps (B, H, W)")
    want = _map(A, g)
    if close(got, want):
        return passed("grad_cam_map")
    mistakes = [
        (dict(relu="none"), "no ReLU: Grad-CAM keeps the positions whose weighted sum speaks for the class, "
         "ReLU(sum_k alpha_k A_k)"),
        (dict(alpha="sum"), "alpha is N times too large: average the gradient over the positions (mean), do not "
         "sum it"),
        (dict(alpha="channels"), "you averaged the gradient over the channels: alpha_k is one number per channel, "
         "the mean of g_k over the positions (dims 2 and 3)"),
        (dict(alpha="none"), "that is ReLU(sum_k g_k A_k), gradient x activation: Grad-CAM first averages each "
         "channel's gradient over the positions"),
        (dict(relu="weights"), "the ReLU goes on the weighted sum, not on the channel weights alpha_k"),
        (dict(channels="mean"), "the map is K times too small: sum over the channels, do not average"),
    ]
    for switches, hint in mistakes:
        if close(got, _map(A, g, **switches)):
            raise AssertionError(hint)
    raise AssertionError("maps differ from ReLU(sum_k alpha_k A_k) with alpha_k = g_k.mean over the positions")


class _TinyCNN(nn.Module):
    """conv -> ReLU (hook_conv) -> conv -> ReLU -> max pool -> linear: (B, 1, 6, 6) -> (B, 4)."""

    def __init__(self, seed):
        super().__init__()
        gen = generator(seed + 500)
        self.conv1, self.conv2 = nn.Conv2d(1, 5, 3, padding=1), nn.Conv2d(5, 6, 3, padding=1)
        self.hook_conv = HookPoint()
        self.head = nn.Linear(6 * 3 * 3, 4)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        self.double().eval()

    def forward(self, x):
        A = self.hook_conv(torch.relu(self.conv1(x)))
        return self.head(torch.max_pool2d(torch.relu(self.conv2(A)), 2).flatten(1))


def _at(model, x, target, *, score="logit", wrt="layer", reduce="sum"):
    x = x.detach().clone().requires_grad_(True)
    store = {}
    handle = model.hook_conv.register_forward_hook(lambda m, i, out: store.update(A=out))
    try:
        logits = model(x)
    finally:
        handle.remove()
    A = store["A"]
    if score == "probability":
        logits = logits.softmax(-1)
    elif score == "log_probability":
        logits = logits.log_softmax(-1)
    rows = torch.arange(len(x))
    if score == "all":
        y = logits.sum()
    else:
        chosen = logits.argmax(-1) if score == "predicted" else target
        picked = logits[rows, chosen]
        y = picked.sum() if reduce == "sum" else picked.mean()
    (g,) = torch.autograd.grad(y, A if wrt == "layer" else x)
    return _map(A.detach(), g)


def check_grad_cam_at(grad_cam_at, seed=0):
    """Check ``grad_cam_at(model, x, target (B,), layer) -> (B, H, W)``: Grad-CAM of each row's target
    logit at the hook point named ``layer`` (through ``run_with_cache(..., detach=False)``)."""
    check_own_work(grad_cam_at, forbidden=_READY, library=_library(), exercise="grad_cam_at")
    model = _TinyCNN(seed)
    gen = generator(seed + 600)
    x = torch.rand(5, 1, 6, 6, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        predicted = model(x).argmax(-1)
    target = (predicted + 1 + torch.randint(0, 3, (5,), generator=gen)) % 4  # never the predicted class
    got = run(grad_cam_at, model, x.clone(), target.clone(), "hook_conv")
    tensor_of_shape(got, (5, 6, 6), "the maps (B, H, W) at hook_conv")
    want = _at(model, x, target)
    if close(got, want):
        return passed("grad_cam_at")
    mistakes = [
        (dict(score="probability"), "you differentiated the softmax probability: Grad-CAM uses the class score "
         "y_c, the logit before the softmax"),
        (dict(score="log_probability"), "you differentiated the log-probability: Grad-CAM uses the logit y_c"),
        (dict(score="predicted"), "you explained the predicted class: explain the class given in `target`, row by row"),
        (dict(score="all"), "you differentiated the sum of all the logits: pick each row's target logit, "
         "logits[torch.arange(B), target]"),
        (dict(reduce="mean"), "maps are B times too small: differentiate the SUM of the rows' target logits "
         "(the rows do not interact), not their mean"),
        (dict(wrt="input"), "the gradient must be taken with respect to the layer's activation A (the cached "
         "hook point), not the input x"),
    ]
    for switches, hint in mistakes:
        if close(got, _at(model, x, target, **switches)):
            raise AssertionError(hint)
    raise AssertionError("maps differ from Grad-CAM at the layer: cache A with detach=False, take dy_c/dA with "
                         "y_c = the sum of the target logits, then your grad_cam_map(A, g) (does exercise 1 pass?)")


def _cam(A, weight, target, *, rows="each", scale=1.0, relu=False):
    w = weight[target] if rows == "each" else (weight[target[:1]].expand(len(target), -1) if rows == "first"
                                               else weight.sum(0, keepdim=True).expand(len(target), -1))
    cam = torch.einsum("bk...,bk->b...", A, w) * scale
    return torch.relu(cam) if relu else cam


def check_cam(class_activation_map, seed=0):
    """Check ``class_activation_map(A (B, K, ...positions), weight (C, K), target (B,)) -> (B, ...positions)``:
    ``CAM[b, i] = sum_k weight[target[b], k] A[b, k, i]``, signed, no 1/N."""
    check_own_work(class_activation_map, forbidden=_READY, library=_library(), exercise="class_activation_map")
    gen = generator(seed + 700)
    B, K, C = 4, 6, 5
    for positions in ((3, 4), (7,)):
        A = torch.randn(B, K, *positions, generator=gen, dtype=torch.float64)
        weight = torch.randn(C, K, generator=gen, dtype=torch.float64)
        target = torch.tensor([0, 3, 1, 4])[torch.randperm(B, generator=gen)]
        got = run(class_activation_map, A.clone(), weight.clone(), target.clone())
        tensor_of_shape(got, (B, *positions), f"the maps (B, {', '.join(map(str, positions))})")
        if close(got, _cam(A, weight, target)):
            continue
        N = int(torch.tensor(positions).prod())
        mistakes = [
            (dict(scale=1.0 / N), "CAM has no 1/N: sum_k w_ck A_k[i]; the factor 1/N is what Grad-CAM adds"),
            (dict(relu=True), "CAM is signed: no ReLU (Grad-CAM's ReLU comes on top of it)"),
            (dict(rows="first"), "every row used the first row's class: take weight[target[b]] for row b"),
            (dict(rows="all"), "you summed the weights of all classes: take the row of the target class"),
        ]
        for switches, hint in mistakes:
            if close(got, _cam(A, weight, target, **switches)):
                raise AssertionError(hint)
        raise AssertionError("maps differ from CAM[b, i] = sum_k weight[target[b], k] * A[b, k, i]")
    return passed("class_activation_map")
