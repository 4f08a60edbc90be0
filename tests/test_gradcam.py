import pytest
import torch
from captum.attr import LayerGradCam
from explain_tiny_models import TextCNN, TextLSTM, TinyTransformer, ids_batch, image_cnn
from torch import nn

from llmxai.explain import grad_cam

TIGHT = dict(atol=1e-10, rtol=0)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum")


@pytest.fixture
def cnn():
    return image_cnn().double().eval()


@pytest.fixture
def images():
    return torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def by_hand(model, inputs, target, module, channel_dim, **kw):
    """Selvaraju et al. eqs. 1-2 written out with a retained gradient (the oracle for (B, T, C) layers)."""
    store = {}

    def keep(mod, args, out):
        a = out[0] if isinstance(out, tuple) else out
        a.retain_grad()
        store["A"] = a

    h = module.register_forward_hook(keep)
    try:
        E = model.embed(inputs).detach().requires_grad_(True)
        model.forward_embedded(E, **kw)[:, target].sum().backward()
    finally:
        h.remove()
    A, dA = store["A"], store["A"].grad
    positions = [d for d in range(1, A.dim()) if d != channel_dim]
    return (dA.mean(positions, keepdim=True) * A).sum(channel_dim).clamp_min(0).detach()


@pytest.mark.parametrize("layer", ["3", "4", "0"])
def test_equals_captum_layer_gradcam_2d(cnn, images, layer):
    ours = grad_cam(cnn, images, 2, layer)
    module = dict(cnn.named_modules())[layer]
    theirs = LayerGradCam(cnn, module).attribute(images, target=2, relu_attributions=True)  # (B, 1, H, W)
    assert ours.shape == theirs[:, 0].shape
    torch.testing.assert_close(ours, theirs[:, 0], **TIGHT)
    assert ours.abs().sum() > 0


def test_equals_captum_layer_gradcam_conv1d_over_tokens():
    model = TextCNN().double().eval()
    ids = ids_batch(B=3, T=7)
    for layer in (model.conv, model.act):
        ours = grad_cam(model, ids, 1, layer)
        theirs = LayerGradCam(model, layer).attribute(ids, target=1, relu_attributions=True)  # (B, 1, T)
        assert ours.shape == (3, 7)
        torch.testing.assert_close(ours, theirs[:, 0], **TIGHT)


def test_lstm_and_transformer_layers_give_token_maps():
    lstm = TextLSTM().double().eval()
    ids = ids_batch(B=2, T=5)
    ours = grad_cam(lstm, ids, 2, "lstm")  # nn.LSTM returns (output, (h, c)): output (B, T, H) is read
    assert ours.shape == (2, 5)
    torch.testing.assert_close(ours, by_hand(lstm, ids, 2, lstm.lstm, channel_dim=2), **TIGHT)
    tf = TinyTransformer().double().eval()
    lengths = torch.tensor([5, 3])
    ours = grad_cam(tf, ids, 0, "blocks.1", lengths=lengths)
    torch.testing.assert_close(ours, by_hand(tf, ids, 0, tf.blocks[1], channel_dim=2, lengths=lengths), **TIGHT)


def test_sign_is_kept_without_relu(cnn, images):
    signed = grad_cam(cnn, images, 0, "3", relu=False)
    assert (signed < 0).any() and (signed > 0).any()
    torch.testing.assert_close(signed.clamp_min(0), grad_cam(cnn, images, 0, "3"), **TIGHT)
    theirs = LayerGradCam(cnn, cnn[3]).attribute(images, target=0, relu_attributions=False)[:, 0]
    torch.testing.assert_close(signed, theirs, **TIGHT)


def test_differs_from_the_articles_formula():
    # The source articles write Grad-CAM as ReLU(df/dx * GAP(x)): per position, the gradient
    # weighted by each channel's average activation. With a global-average-pool head the
    # gradient is the same at every position, so that map is flat and cannot localise, while
    # Grad-CAM (channel weights = averaged gradients, applied to the activations) follows A.
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 3, 3, padding=1)
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 2)).double().eval()
    with torch.no_grad():
        model[4].weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [1.0, -2.0, 0.5]]))
    x = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    x[0, 0, 1:3, 1:3] = 3.0  # one bright patch
    ours = grad_cam(model, x, 1, "1", relu=False)
    A = model[1](model[0](x)).detach().requires_grad_(True)
    (dA,) = torch.autograd.grad(model[2:](A)[:, 1].sum(), A)
    articles = (dA * A.mean((2, 3), keepdim=True)).sum(1).clamp_min(0)
    assert torch.allclose(articles, articles.flatten()[0].expand_as(articles))  # flat
    assert (ours > 0).any() and ours.std() > 0.1 * ours.abs().max()
    assert not torch.allclose(ours.clamp_min(0), articles)
    # the right formula, spelled out
    torch.testing.assert_close(ours, ((dA.mean((2, 3), keepdim=True)) * A).sum(1).detach(), **TIGHT)


def test_resize_to_the_input(cnn, images):
    cam = grad_cam(cnn, images, 1, "3", resize=True)
    assert cam.shape == (3, 8, 8)
    small = grad_cam(cnn, images, 1, "3")
    torch.testing.assert_close(cam, torch.nn.functional.interpolate(small[:, None], size=(8, 8), mode="bilinear")[:, 0])
    model = TextCNN().double().eval()
    assert grad_cam(model, ids_batch(T=9), 0, "conv", resize=True).shape == (2, 9)


def test_channel_dim_ambiguity_and_override():
    model = TextLSTM(hidden=6).double().eval()  # output (B, 6, 6): channels and tokens look alike
    ids = ids_batch(B=2, T=6)
    with pytest.raises(ValueError, match="channel_dim=1 for \\(B, C, T\\)"):
        grad_cam(model, ids, 0, "lstm")
    torch.testing.assert_close(grad_cam(model, ids, 0, "lstm", channel_dim=2),
                               by_hand(model, ids, 0, model.lstm, channel_dim=2), **TIGHT)


def test_layer_by_module_equals_layer_by_name(cnn, images):
    torch.testing.assert_close(grad_cam(cnn, images, 1, cnn[3]), grad_cam(cnn, images, 1, "3"), **TIGHT)


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        self.drop(self.conv(x))
        raise RuntimeError("boom")


def test_hooks_removed_and_mode_restored_after_an_exception():
    model = Exploding().train()
    with pytest.warns(UserWarning, match="training mode"), pytest.raises(RuntimeError, match="boom"):
        grad_cam(model, torch.randn(1, 1, 5, 5), 0, "conv")
    assert not model.conv._forward_hooks and model.training and model.drop.training
    assert torch.is_grad_enabled()  # grad_cam switches autograd off below the layer; it must come back on
    with torch.no_grad(), pytest.warns(UserWarning), pytest.raises(RuntimeError):
        grad_cam(model, torch.randn(1, 1, 5, 5), 0, "conv")
    assert torch.is_grad_enabled()


def test_works_under_no_grad_and_leaves_grad_mode(cnn, images):
    expected = grad_cam(cnn, images, 1, "3")
    with torch.no_grad():
        torch.testing.assert_close(grad_cam(cnn, images, 1, "3"), expected, **TIGHT)
        assert not torch.is_grad_enabled()


def test_bad_input(cnn, images):
    with pytest.raises(ValueError, match=r"unknown name 'conv9'.*valid names are \['0', '1', '2', '3'"):
        grad_cam(cnn, images, 0, "conv9")
    with pytest.raises(ValueError, match="not a submodule"):
        grad_cam(cnn, images, 0, nn.Conv2d(1, 1, 1))
    with pytest.raises(TypeError, match="nn.Module or a dotted name"):
        grad_cam(cnn, images, 0, 3)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        grad_cam(cnn, images, 4, "3")
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        grad_cam(cnn, images, 0, "7")  # Linear: (B, 8) has no positions
    with pytest.raises(TypeError, match="torch.Tensor"):
        grad_cam(cnn, images.numpy(), 0, "3")
    with pytest.raises(ValueError, match="channel_dim"):
        grad_cam(cnn, images, 0, "3", channel_dim=0)
    twice = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1))
    twice.forward = lambda x: twice[0](twice[0](x)).flatten(1)
    with pytest.raises(ValueError, match="ran 2 times"):
        grad_cam(twice.eval(), images.float(), 0, "0")


def test_target_that_ignores_the_layer_is_an_error():
    class LastState(TextLSTM):
        def forward_embedded(self, E):
            _, (h, _) = self.lstm(E)
            return self.head(h[-1])

    model = LastState().eval()
    with pytest.raises(ValueError, match="does not depend"):
        grad_cam(model, ids_batch(), 0, "lstm")
