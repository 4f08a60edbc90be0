"""The graders of lessons 2 onwards, one module per lesson (lesson 1's are in ``llmxai.checks``).

Every ``check_*`` here is also reachable as ``llmxai.checks.check_*``, which is how the lessons
call them. Each runs the learner's function on a few cases against a reference, returns
``True`` (after printing one line) on success and otherwise raises ``AssertionError`` whose
message names the likely mistake. A learner's function that raises or warns gets a hint;
a grader never writes to stderr and never warns.
"""

import pkgutil

LESSONS = tuple(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))  # common + one per lesson
