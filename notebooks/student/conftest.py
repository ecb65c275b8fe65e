"""The student notebooks are not run by nbval: their exercises are stubs, so
their checks fail by design (tests/test_student_edition.py tests them)."""

collect_ignore_glob = ["*.ipynb"]
