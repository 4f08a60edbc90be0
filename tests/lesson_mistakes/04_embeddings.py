"""A common mistake in lesson 04_embeddings, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'embedding_grad'  # the answer cell it replaces
HINT = 'SUM of its gradients'  # words the grader's feedback must contain
ANSWER = """def embedding_grad(ids, grad_E, V):
    grad_W = torch.zeros(V, grad_E.shape[-1], dtype=grad_E.dtype)
    grad_W[ids.reshape(-1)] = grad_E.reshape(-1, grad_E.shape[-1])
    return grad_W
"""
