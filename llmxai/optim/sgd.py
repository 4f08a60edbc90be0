"""Stochastic gradient descent with momentum, as :class:`torch.optim.SGD` computes it.

Heavy-ball momentum (Polyak 1964, "Some methods of speeding up the convergence of
iteration methods", USSR Comput. Math. Math. Phys. 4(5), doi:10.1016/0041-5553(64)90137-5);
Nesterov's variant (Nesterov 1983) in the form of Sutskever et al. 2013 (ICML).
"""

from llmxai.optim.optimizer import Optimizer, number


class SGD(Optimizer):
    """``g = grad + weight_decay * p``; ``v = momentum * v + (1 - dampening) * g`` (``v = g`` at the
    first step); ``p <- p - lr * v``, or ``p <- p - lr * (g + momentum * v)`` with ``nesterov``."""

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, lr)
        self.momentum = number(momentum, "momentum")
        self.dampening = number(dampening, "dampening", high=1.0)
        self.weight_decay = number(weight_decay, "weight_decay")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected a bool, got {type(nesterov).__name__}")
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov: expected momentum > 0 and dampening = 0, got momentum={momentum}, dampening={dampening}"
            )
        self.nesterov = nesterov

    def update(self, p, grad, state):
        g = grad + self.weight_decay * p if self.weight_decay else grad
        if self.momentum:
            if "velocity" not in state:
                state["velocity"] = g.clone()
            else:
                state["velocity"] = self.momentum * state["velocity"] + (1 - self.dampening) * g
            v = state["velocity"]
            g = g + self.momentum * v if self.nesterov else v
        p -= self.lr * g
