"""A common mistake in lesson 02_gradient_descent, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'cross_entropy_grad'  # the answer cell it replaces
HINT = 'divide by B'  # words the grader's feedback must contain
ANSWER = """def cross_entropy_grad(logits, targets):
    p = torch.softmax(logits, dim=-1)
    return p - torch.nn.functional.one_hot(targets, logits.shape[1]).to(p.dtype)
"""
