"""A common mistake in lesson 14_lrp_sequences, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'cp_attention'  # the answer cell it replaces
HINT = 'q and k receive a gradient'  # words the grader's feedback must contain
ANSWER = """def cp_attention(q, k, v):
    P = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1)
    return P @ v
"""
