"""A common mistake in lesson 17_mechanistic, for the nbgrader round trip (tests/test_nbgrader.py)."""

GRADE_ID = 'patch_position'  # the answer cell it replaces
HINT = 'wrong direction'  # words the grader's feedback must contain
ANSWER = """def patch_position(model, clean_ids, corrupt_ids, hook, position):
    with torch.no_grad():
        _, cache = run_with_cache(model, corrupt_ids, names=[hook])
        corrupt_act = cache[hook]

        def put_corrupt(a):
            a = a.clone()
            a[:, position] = corrupt_act[:, position]
            return a

        with hooks(model, {hook: put_corrupt}):
            return model(clean_ids)
"""
