"""Deferred imports for the code location.

Loading `orchestration.definitions` only *defines* assets; pandas, numpy, pyarrow, duckdb, scikit-learn and the
like are needed only to *execute* them, and importing them would add seconds to every code-server start
(bench/bench_code_location.py). Modules that use such a library throughout bind it with `lazy_module`; the rest
import it inside the function that needs it. tests/integration/test_code_location_imports.py keeps it that way.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class DeferredModule(types.ModuleType):
    """Stands for module `__name__` and imports it on first attribute access.

    `lazy_module` registers nothing in sys.modules, so other code importing the module is unaffected, and the
    import itself goes through the import system (its per-module lock makes concurrent first uses safe). Placed in
    sys.modules as a placeholder (orchestration/checks/gx_import.py), it removes itself there before importing.
    """

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def lazy_module(name: str) -> types.ModuleType:
    """`name`, imported when one of its attributes is first used (`pd = lazy_module("pandas")`; `pd.DataFrame`).

    Annotations naming the module's types must then stay unevaluated: `from __future__ import annotations`, or
    quoted (`-> "pd.DataFrame"`) in modules that cannot use it (Dagster reads asset functions' `context`
    annotation as an object).
    """
    return DeferredModule(name)
