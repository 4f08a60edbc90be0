"""A common mistake in lesson 01_attention, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'attention'  # the answer cell it replaces
HINT = 'scaling missing'  # words the grader's feedback must contain
ANSWER = """def attention(q, k, v):
    weights = softmax(q @ k.transpose(-2, -1))
    return weights @ v, weights
"""
