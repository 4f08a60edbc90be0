"""A common mistake in lesson 08_training_dynamics, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'induction_score'  # the answer cell it replaces
HINT = 'duplicate-token head'  # words the grader's feedback must contain
ANSWER = """def induction_score(pattern, L):
    q = torch.arange(L + 1, 2 * L + 1)
    return pattern[:, q, q - L].mean().item()
"""
