"""A common mistake in lesson 09_explainability, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'occlude_each'  # the answer cell it replaces
HINT = 'the score is f(x) - f(occluded)'  # words the grader's feedback must contain
ANSWER = """def occlude_each(f, x, baseline):
    occluded = torch.where(torch.eye(x.shape[0], dtype=torch.bool), baseline, x)
    return f(occluded) - f(x[None])[0]
"""
