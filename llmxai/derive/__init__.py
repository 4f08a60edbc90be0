"""SymPy derivations that the chapters display and the tests check.

One module per topic; import it by name, e.g. ``from llmxai.derive import attention``.
"""
