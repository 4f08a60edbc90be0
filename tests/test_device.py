import pytest
import torch

from llmxai import get_device, seed_everything
from llmxai.nn import scaled_dot_product_attention


def test_env_var_forces_cpu(monkeypatch):
    monkeypatch.setenv("LLMXAI_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="expected device"):
        get_device("tpu")


def test_missing_cuda_is_refused_not_faked():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present, so asking for it is legitimate")
    with pytest.raises(ValueError, match="cuda"):
        get_device("cuda")


def test_seed_repeats_draws():
    seed_everything(3)
    a = torch.randn(5)
    seed_everything(3)
    assert torch.equal(a, torch.randn(5))


def test_cpu_and_cuda_agree():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: the CPU/CUDA comparison needs a GPU")
    seed_everything(0)
    q, k, v = (torch.randn(2, 4, 16, 8) for _ in range(3))
    out_cpu, w_cpu = scaled_dot_product_attention(q, k, v)
    out_gpu, w_gpu = scaled_dot_product_attention(q.cuda(), k.cuda(), v.cuda())
    torch.testing.assert_close(out_gpu.cpu(), out_cpu, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w_gpu.cpu(), w_cpu, atol=1e-5, rtol=1e-5)
