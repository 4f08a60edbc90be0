import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmxai.evaluation import accuracy, mean_loss
from llmxai.train import cross_entropy_loss, fit


def blobs(n=256, seed=0):
    """Two Gaussian blobs in 4-D, linearly separable with a margin."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g) * 0.5 + (y[:, None] * 2 - 1) * torch.tensor([1.5, -1.0, 0.5, 0.0])
    return x, y


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))


class TinyLM(nn.Module):
    def __init__(self, V=7, d=8):
        super().__init__()
        self.emb = nn.Embedding(V, d)
        self.out = nn.Linear(d, V)

    def forward(self, ids):
        return self.out(self.emb(ids))  # (B, T, V)


@pytest.fixture(autouse=True)
def cpu(monkeypatch):
    monkeypatch.setenv("LLMXAI_DEVICE", "cpu")


# --- fit ----------------------------------------------------------------------------------

def test_fit_learns_and_stops_at_target():
    x, y = blobs()
    model = mlp()
    history = fit(model, (x, y), lr=0.001, epochs=50, batch_size=32,
                  eval_fn=lambda m: accuracy(m, (x, y)), target=0.97, progress=False)
    assert history.epochs > 2, "the learning rate is small enough that the target takes a few epochs"
    assert history.reached_target and history.final_metric >= 0.97
    assert history.epochs < 50, "should stop at the target, not run all epochs"
    assert len(history.step_loss) == history.steps == history.epochs * 8
    assert len(history.epoch_loss) == history.epochs == len(history.metric)
    assert history.eval_steps == [8 * (k + 1) for k in range(history.epochs)]
    assert history.epoch_loss[-1] < history.epoch_loss[0]
    assert not model.training


def test_fit_is_deterministic_on_cpu_and_seed_matters():
    x, y = blobs()
    runs = []
    for seed in (0, 0, 1):
        model = mlp()
        h = fit(model, (x, y), lr=0.01, epochs=2, batch_size=16, seed=seed, progress=False)
        runs.append((h.step_loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    assert runs[0][0] != runs[2][0], "a different seed shuffles differently"


def test_fit_shuffle_false_equals_manual_loop():
    x, y = blobs(64)
    model, ref = mlp(), mlp()
    fit(model, (x, y), optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=2,
        batch_size=16, shuffle=False, progress=False)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for _ in range(2):
        for s in range(0, 64, 16):
            opt.zero_grad()
            F.cross_entropy(ref(x[s:s + 16]), y[s:s + 16]).backward()
            opt.step()
    for a, b in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_fit_steps_budget_and_callable_data():
    x, y = blobs()
    calls = []

    def batch(step):
        calls.append(step)
        g = torch.Generator().manual_seed(step)
        idx = torch.randint(0, len(y), (32,), generator=g)
        return x[idx], y[idx]

    h = fit(mlp(), batch, steps=20, eval_fn=lambda m: accuracy(m, (x, y)), progress=False)
    assert h.steps == 20 and calls == list(range(20))
    assert h.eval_steps == list(range(2, 21, 2))
    h = fit(mlp(), (x, y), steps=11, epochs=100, batch_size=32, progress=False)
    assert h.steps == 11 and h.epochs == 2


def test_fit_accepts_a_dataloader_and_custom_loss():
    x, y = blobs(96)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    seen = []

    def loss_fn(model, batch):
        seen.append(len(batch))
        xb, yb = batch
        return F.cross_entropy(model(xb), yb)

    h = fit(mlp(), loader, loss_fn=loss_fn, epochs=2, progress=True)
    assert h.steps == 6 and seen == [2] * 6


def test_fit_language_model_batches_and_ignore_index():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 7, (40, 6), generator=g)
    targets = ids.roll(-1, dims=1)
    targets[:, -1] = -100
    model = TinyLM()
    loss = cross_entropy_loss(model, (ids, targets))
    manual = F.cross_entropy(model(ids)[:, :-1].reshape(-1, 7), targets[:, :-1].reshape(-1))
    torch.testing.assert_close(loss, manual)
    h = fit(model, (ids, targets), lr=0.05, epochs=3, batch_size=8, progress=False)
    assert h.epoch_loss[-1] < h.epoch_loss[0]


def test_accuracy_and_mean_loss_against_manual():
    x, y = blobs(100)
    model = mlp()
    model.train()
    with torch.no_grad():
        logits = model(x)
    assert accuracy(model, (x, y), batch_size=7) == pytest.approx(float((logits.argmax(1) == y).double().mean()))
    assert mean_loss(model, (x, y), batch_size=7) == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-6)
    assert model.training, "helpers restore the mode they found"
    ids = torch.tensor([[1, 2, 3]])
    lm = TinyLM()
    pred = lm(ids).argmax(-1)
    target = torch.stack([pred[0, 0], (pred[0, 1] + 1) % 7, torch.tensor(-100)])[None]
    assert accuracy(lm, (ids, target)) == 0.5


def test_fit_callback_sees_every_update_with_its_gradients():
    x, y = blobs(64)
    model, ref = mlp(), mlp()
    seen = []

    def callback(m, history):
        assert m is model and m.training
        seen.append((history.steps, history.step_loss[-1], [p.grad.clone() for p in m.parameters()],
                     [p.detach().clone() for p in m.parameters()]))

    h = fit(model, (x, y), optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=2, batch_size=16,
            shuffle=False, callback=callback, progress=False)
    assert [s[0] for s in seen] == list(range(1, h.steps + 1)) and h.steps == 8
    assert [s[1] for s in seen] == h.step_loss
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    for k, s in enumerate(list(range(0, 64, 16)) * 2):
        opt.zero_grad()
        F.cross_entropy(ref(x[s:s + 16]), y[s:s + 16]).backward()
        opt.step()
        _, _, grads, params = seen[k]
        for g, p, r in zip(grads, params, ref.parameters()):
            torch.testing.assert_close(g, r.grad, rtol=0, atol=0)
            torch.testing.assert_close(p, r.detach(), rtol=0, atol=0)
    clipped = []
    fit(mlp(), (x, y), lr=0.1, steps=3, clip_grad_norm=1e-3, progress=False,
        callback=lambda m, h: clipped.append(torch.cat([p.grad.flatten() for p in m.parameters()]).norm()))
    assert len(clipped) == 3 and all(float(n) <= 1e-3 * (1 + 1e-5) for n in clipped), "gradients after clipping"


def test_nan_loss_is_reported():
    x, y = blobs(32)
    with pytest.raises(FloatingPointError, match="step 0"):
        fit(mlp(), (x, y), loss_fn=lambda m, b: m(b[0]).sum() * float("nan"), epochs=1, progress=False)


@pytest.mark.parametrize("kwargs, err", [
    (dict(), ValueError),  # neither epochs nor steps
    (dict(epochs=0), ValueError),
    (dict(epochs=1, target=0.9), ValueError),
    (dict(epochs=1, lr=0.1, optimizer=object()), ValueError),
    (dict(epochs=1, optimizer=object()), TypeError),
    (dict(epochs=1, lr=-1.0), ValueError),
    (dict(epochs=1, batch_size=0), ValueError),
    (dict(epochs=1, seed=-5), ValueError),
    (dict(epochs=1, seed=0.5), TypeError),
    (dict(epochs=1, eval_fn=lambda m: 1.0, target="high"), TypeError),
    (dict(epochs=1, device="tpu"), ValueError),
    (dict(epochs=1, callback="print"), TypeError),
])
def test_fit_bad_arguments(kwargs, err):
    x, y = blobs(16)
    with pytest.raises(err, match="expected"):
        fit(mlp(), (x, y), progress=False, **kwargs)


@pytest.mark.parametrize("data, err", [
    ((torch.zeros(4, 4), torch.zeros(5, dtype=torch.long)), ValueError),
    ((), ValueError),
    ((torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)), ValueError),
    (([1, 2], torch.zeros(2)), TypeError),
    (42, TypeError),
])
def test_fit_bad_data(data, err):
    with pytest.raises(err, match="expected"):
        fit(mlp(), data, epochs=1, progress=False)


def test_fit_bad_model_and_callable_without_steps():
    with pytest.raises(TypeError, match="nn.Module"):
        fit(lambda x: x, blobs(8), epochs=1, progress=False)
    with pytest.raises(ValueError, match="steps"):
        fit(mlp(), lambda step: blobs(8), epochs=1, progress=False)


def test_fit_moves_model_to_the_device():
    model = mlp()
    fit(model, blobs(16), epochs=1, device="cpu", progress=False)
    assert next(model.parameters()).device == torch.device("cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA to check training on a GPU")
def test_fit_on_cuda(monkeypatch):
    monkeypatch.delenv("LLMXAI_DEVICE")
    x, y = blobs()
    model = mlp()
    h = fit(model, (x, y), lr=0.05, epochs=20, eval_fn=lambda m: accuracy(m, (x, y)), target=0.97, progress=False)
    assert next(model.parameters()).is_cuda and h.reached_target
