"""A common mistake in lesson 15_attention_explanation, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'rollout_product'  # the answer cell it replaces
HINT = 'wrong order'  # words the grader's feedback must contain
ANSWER = """def rollout(A):
    T = A.shape[-1]
    eye = torch.eye(T, dtype=A.dtype)
    R = eye
    for layer in A:
        R = R @ (0.5 * layer + 0.5 * eye)
    return R
"""
