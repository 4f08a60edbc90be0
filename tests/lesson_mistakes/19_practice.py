"""A common mistake in lesson 19_practice, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'token_share'  # the answer cell it replaces
HINT = 'the padding is counted'  # words the grader's feedback must contain
ANSWER = """def token_share(scores, lengths, position):
    a = scores.abs()
    return (a[:, position] / a.sum(1)).mean()
"""
