"""A common mistake in lesson 03_backpropagation, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'sigmoid_backward'  # the answer cell it replaces
HINT = 'derivative of tanh'  # words the grader's feedback must contain
ANSWER = """def sigmoid_backward(a, grad_a):
    return grad_a * (1 - a ** 2)
"""
