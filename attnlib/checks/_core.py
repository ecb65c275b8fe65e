"""The helpers every check uses."""

import functools


class CheckFailed(AssertionError):
    """An exercise answer is not right yet; the message says what to look at."""


class NotDoneYet(CheckFailed):
    """The exercise is still the stub: it raises NotImplementedError or gives
    None. The message says what to do."""


def correct(message: str = "") -> None:
    """Report a passed check (the one place a check prints)."""
    print("Correct" + (f": {message}" if message else "."))


def expect(condition: bool, hint: str) -> None:
    if not condition:
        raise CheckFailed(hint)


def exercise(number: str, todo: str):
    """Mark ``check_*`` as the check of exercise ``number`` (e.g. ``"1.2"``).

    The decorated check takes the student's answer first: a function, or a
    value. While the answer is the notebook's stub (a function that raises
    ``NotImplementedError`` or returns ``None``, or the value ``None``), the
    check raises :class:`NotDoneYet`: "Exercise 1.2 is not done yet: <todo>".
    """

    def not_done(why: str) -> NotDoneYet:
        return NotDoneYet(f"Exercise {number} is not done yet: {todo} ({why})")

    def decorate(check):
        @functools.wraps(check)
        def wrapper(answer, *args, **kwargs):
            if answer is None or answer is Ellipsis:
                raise not_done("the answer is still None")
            if callable(answer) and not isinstance(answer, type):
                answer = _guarded(answer, not_done)
            try:
                return check(answer, *args, **kwargs)
            except NotImplementedError:
                name = getattr(answer, "__name__", "the function")
                raise not_done(f"{name} still raises NotImplementedError") from None

        wrapper.exercise = number
        wrapper.todo = todo
        return wrapper

    return decorate


def _guarded(fn, not_done):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        result = fn(*args, **kwargs)
        if result is None:
            raise not_done(f"{fn.__name__} returned None: is a return missing?")
        return result

    return call
