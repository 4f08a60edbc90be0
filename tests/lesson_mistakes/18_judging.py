"""A common mistake in lesson 18_judging, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'aopc_from_curve'  # the answer cell it replaces
HINT = 'k = 1 .. L only'  # words the grader's feedback must contain
ANSWER = """def aopc_from_curve(curve):
    return (curve[:, :1] - curve[:, 1:]).mean(1)
"""
