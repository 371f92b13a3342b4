"""Import Great Expectations without the heavy modules it loads for features the suites never use.

`import great_expectations` loads scipy.stats and altair at import time, only for the distribution expectations
(KL divergence, KS tests) and their chart renderers. Every GX check step of the multiprocess executor is a fresh
process, so that is paid on every check step: measured ~1.5 s of CPU with compiled bytecode, ~4 s without. Until
something reads an attribute of them, they stay placeholders that import the real module on first use, so code
that does need them (in the same process) still works unchanged.
"""

from __future__ import annotations

import sys
import types

from orchestration.lazy import DeferredModule

DEFERRED_MODULES = ("scipy.stats", "altair")


def import_great_expectations() -> types.ModuleType:
    if "great_expectations" not in sys.modules:
        for name in DEFERRED_MODULES:
            sys.modules.setdefault(name, DeferredModule(name))
    import great_expectations

    return great_expectations
