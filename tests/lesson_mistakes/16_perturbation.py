"""A common mistake in lesson 16_perturbation, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'shapley_values'  # the answer cell it replaces
HINT = 'Banzhaf value'  # words the grader's feedback must contain
ANSWER = """def shapley_values(v, M):
    phi = torch.zeros(M, dtype=v.dtype)
    for code in range(2 ** M):
        for i in range(M):
            if not (code >> i) & 1:
                phi[i] += (v[code | (1 << i)] - v[code]) / 2 ** (M - 1)
    return phi
"""
