"""How often code uses each member of a type: the prior completion ranks members with (what
IntelliCode and Pythia learn from other code). Counts of `receiver_type.member` from the JDK's
sources and the Python standard library, and of each name after a `.` (the back-off), shipped in
`usage-prior.json.gz` (`make usage-prior` rebuilds it: r1lsp/usage_prior_build.py). Read on
first use; a lookup is two dict gets."""
from __future__ import annotations

import functools
import gzip
import json
import math
from importlib import resources

DATA = "usage-prior.json.gz"


class UsagePrior:
    def __init__(self, data: dict):
        self.types: dict[str, dict[str, int]] = data.get("types", {})
        self.names: dict[str, int] = data.get("names", {})
        self.totals = {t: sum(c.values()) for t, c in self.types.items()}

    def of_type(self, type_name: str, member: str) -> tuple[float, float]:
        """(log(1 + uses of `type_name.member`), its share of the type's member uses); (0, 0)
        for a type the counts do not know."""
        counts = self.types.get(type_name)
        if not counts:
            return 0.0, 0.0
        n = counts.get(member, 0)
        return math.log1p(n), n / self.totals[type_name]

    def of_name(self, member: str) -> float:
        """log(1 + uses of `.member` on any receiver)."""
        return math.log1p(self.names.get(member, 0))


@functools.cache
def usage_prior(language: str) -> UsagePrior:
    """The shipped counts of one language (empty when it has none)."""
    try:
        raw = resources.files("r1lsp").joinpath(DATA).read_bytes()
    except (FileNotFoundError, OSError):
        return UsagePrior({})
    return UsagePrior(json.loads(gzip.decompress(raw)).get(language, {}))
