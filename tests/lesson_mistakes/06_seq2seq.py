"""A common mistake in lesson 06_seq2seq, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'attend'  # the answer cell it replaces
HINT = 'the padding gets weight'  # words the grader's feedback must contain
ANSWER = """def attend(e, H, mask):
    weights = torch.softmax(e, dim=-1)
    return (weights[:, :, None] * H).sum(dim=1), weights
"""
