"""Structure mapping: any document onto token < phrase < sentence < paragraph units.

Language knowledge lives in `queries/<language>.scm`; see `languages.GRAMMARS` to add one.
Used by the model's corpus builder and by the server; imports neither (nor pygls, nor torch).
"""
from .document import PositionError, StructuredDocument
from .hierarchy import Hierarchy, HierarchySpan, Level, renumber_first_appearance
from .languages import normalize_language
from .mapping import BINARY_SNIFF_BYTES, MAX_SYNTAX_BYTES, map_structure
from .render import format_levels
from .text_index import utf8_bytes

__all__ = [
    "BINARY_SNIFF_BYTES", "MAX_SYNTAX_BYTES", "Hierarchy", "HierarchySpan", "Level", "PositionError",
    "StructuredDocument", "format_levels", "map_structure", "normalize_language",
    "renumber_first_appearance", "utf8_bytes",
]
