"""A common mistake in lesson 05_recurrent, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'last_states'  # the answer cell it replaces
HINT = 'the last position is padding'  # words the grader's feedback must contain
ANSWER = """def last_states(states, lengths):
    return states[:, -1]
"""
