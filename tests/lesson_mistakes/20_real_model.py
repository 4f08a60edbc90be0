"""A common mistake in lesson 20_real_model, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'rope'  # the answer cell it replaces
HINT = 'neighbours'  # words the grader's feedback must contain
ANSWER = """def rope(x, base):
    T, d = x.shape[-2], x.shape[-1]
    theta = base ** (-2 * torch.arange(d // 2, dtype=x.dtype) / d)
    angle = torch.arange(T, dtype=x.dtype)[:, None] * theta
    cos, sin = angle.cos(), angle.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
"""
