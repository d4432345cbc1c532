; Java definitions, in the tags vocabulary (aider, nvim-treesitter): @definition.<kind> on the
; definition, @name on its name. <kind> is the LSP symbol kind (class, interface, enum, struct,
; method, constructor, function); class, interface, enum and struct are class-like, the others
; function-like. Compiled together with structure.scm: the mapping names paragraphs by them.

(class_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.struct
(annotation_type_declaration name: (identifier) @name) @definition.class
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.constructor
(compact_constructor_declaration name: (identifier) @name) @definition.constructor
