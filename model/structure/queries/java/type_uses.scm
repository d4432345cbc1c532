; Names a Java file uses as types (r1lsp/java/import_line.py: the imports a file still needs).
; A type written anywhere (declarations, casts, generics, `new`, throws), a static call or field
; read on a class name, an annotation.
(type_identifier) @type
(method_invocation object: (identifier) @type)
(field_access object: (identifier) @type)
(method_reference . (identifier) @type)
(marker_annotation name: (identifier) @type)
(annotation name: (identifier) @type)
