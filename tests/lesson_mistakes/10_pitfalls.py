"""A common mistake in lesson 10_pitfalls, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'gaussian_elbo'  # the answer cell it replaces
HINT = 'you ADDED the KL'  # words the grader's feedback must contain
ANSWER = """def gaussian_elbo(expected_log_lik, mu, log_var):
    kl = 0.5 * (mu ** 2 + log_var.exp() - 1 - log_var).sum(dim=-1)
    return expected_log_lik + kl
"""
