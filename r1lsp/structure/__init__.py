"""Structure mapping: any document onto token < phrase < sentence < paragraph units.

Language knowledge lives in `queries/<language>.scm`; see `languages.GRAMMARS` to add one.
Nothing here imports pygls.
"""
from .document import PositionError, StructuredDocument
from .hierarchy import Hierarchy, HierarchySpan, Level
from .languages import normalize_language
from .mapping import BINARY_SNIFF_BYTES, MAX_SYNTAX_BYTES, map_structure
from .render import format_levels

__all__ = [
    "BINARY_SNIFF_BYTES", "MAX_SYNTAX_BYTES", "Hierarchy", "HierarchySpan", "Level", "PositionError",
    "StructuredDocument", "format_levels", "map_structure", "normalize_language",
]
