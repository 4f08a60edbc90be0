"""A common mistake in lesson 11_gradients, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'integrated_gradients'  # the answer cell it replaces
HINT = 'weights 1/steps'  # words the grader's feedback must contain
ANSWER = """def integrated_gradients(F, x, baseline, steps):
    total = torch.zeros_like(x)
    for k in range(steps):
        alpha = k / (steps - 1)
        weight = (0.5 if k in (0, steps - 1) else 1.0) / steps
        point = (baseline + alpha * (x - baseline)).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(F(point).sum(), point)
        total += weight * grad
    return (x - baseline) * total
"""
