"""Exercise checks for the notebooks: ``checks.check_<name>(answer)``.

Each check compares a student's answer with an independent reference on several inputs. It
prints one line starting with "Correct" when the answer is right and raises
:class:`CheckFailed` with a hint when it is not. While the answer is still the student
notebook's stub (it raises ``NotImplementedError`` or is ``None``), it raises
:class:`NotDoneYet`: "Exercise N.k is not done yet: <what to do>". Checks live in one module
per notebook, and every ``check_*`` function found there is exported here:

    ch01_data, ch02_unet, ch03_unetpp, ch04_attention, ch05_losses, ch06_metrics,
    ch07_training, ch08_ablations,
    ch09_beyond                       the checks of each chapter
    _core                             CheckFailed, NotDoneYet, correct(): what every check uses
"""

import importlib
import pkgutil

from ._core import CheckFailed, NotDoneYet, correct

__all__ = ["CheckFailed", "NotDoneYet", "correct"]
for _mod in pkgutil.iter_modules(__path__):
    if _mod.name.startswith("ch"):
        _m = importlib.import_module(f"{__name__}.{_mod.name}")
        for _name in dir(_m):
            if _name.startswith("check_"):
                globals()[_name] = getattr(_m, _name)
                __all__.append(_name)
