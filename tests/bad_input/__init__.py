"""The bad-input corpus: one row of `cases.CASES` per malformed input (see tests/integration/test_bad_input.py)."""
