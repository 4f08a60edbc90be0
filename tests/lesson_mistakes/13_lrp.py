"""A common mistake in lesson 13_lrp, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'lrp_mlp'  # the answer cell it replaces
HINT = 'the relevance was clipped'  # words the grader's feedback must contain
ANSWER = """def lrp_mlp(layers, x, target, eps):
    inputs, h = [], x
    for k, (W, b) in enumerate(layers):
        inputs.append(h)
        h = h @ W.T + b
        if k < len(layers) - 1:
            h = torch.relu(h)
    rows = torch.arange(len(x))
    R = torch.zeros_like(h)
    R[rows, target] = h[rows, target]
    for (W, b), a in zip(reversed(layers), reversed(inputs)):
        R = torch.relu(lrp_epsilon(a, W, b, R, eps))
    return R
"""
