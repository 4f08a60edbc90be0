"""Adam (Kingma & Ba 2015, "Adam: A method for stochastic optimization", ICLR, arXiv:1412.6980,
Algorithm 1) and AdamW (Loshchilov & Hutter 2019, "Decoupled weight decay regularization",
ICLR, arXiv:1711.05101), as :class:`torch.optim.Adam` and :class:`torch.optim.AdamW` compute them.
"""

from llmxai.optim.optimizer import Optimizer, number


class Adam(Optimizer):
    """``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``; bias-corrected
    ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``; ``p <- p - lr * m_hat / (sqrt(v_hat) + eps)``.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient first (L2 regularisation).
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.beta1 = number(betas[0], "betas[0]", high=1.0, high_open=True)
        self.beta2 = number(betas[1], "betas[1]", high=1.0, high_open=True)
        self.eps = number(eps, "eps")
        self.weight_decay = number(weight_decay, "weight_decay")

    def update(self, p, grad, state):
        if not state:
            state.update(t=0, m=grad.new_zeros(grad.shape), v=grad.new_zeros(grad.shape))
        if self.weight_decay and self.decoupled:
            p *= 1 - self.lr * self.weight_decay  # shrink the weights, outside the adaptive scaling
        elif self.weight_decay:
            grad = grad + self.weight_decay * p
        state["t"] += 1
        t = state["t"]
        state["m"] = self.beta1 * state["m"] + (1 - self.beta1) * grad
        state["v"] = self.beta2 * state["v"] + (1 - self.beta2) * grad**2
        m_hat = state["m"] / (1 - self.beta1**t)
        v_hat = state["v"] / (1 - self.beta2**t)
        p -= self.lr * m_hat / (v_hat.sqrt() + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p <- p (1 - lr * weight_decay)`` before the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)

