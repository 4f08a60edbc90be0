"""A common mistake in lesson 07_transformer, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'causal_lm_loss'  # the answer cell it replaces
HINT = 'not shifted'  # words the grader's feedback must contain
ANSWER = """def causal_lm_loss(logits, ids):
    log_probs = logits - logits.logsumexp(dim=-1, keepdim=True)
    return -log_probs.gather(-1, ids[..., None]).mean()
"""
