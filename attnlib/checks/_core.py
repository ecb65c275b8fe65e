"""The two helpers every check uses."""


class CheckFailed(AssertionError):
    """An exercise answer is not right yet; the message says what to look at."""


def correct(message: str = "") -> None:
    """Report a passed check (the one place a check prints)."""
    print("Correct" + (f": {message}" if message else "."))


def expect(condition: bool, hint: str) -> None:
    if not condition:
        raise CheckFailed(hint)
