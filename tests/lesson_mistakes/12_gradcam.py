"""A common mistake in lesson 12_gradcam, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'class_activation_map'  # the answer cell it replaces
HINT = 'CAM has no 1/N'  # words the grader's feedback must contain
ANSWER = """def class_activation_map(A, weight, target):
    w = weight[target]
    cam = (w.reshape(*w.shape, *[1] * (A.dim() - 2)) * A).sum(dim=1)
    return cam / A[0, 0].numel()
"""
