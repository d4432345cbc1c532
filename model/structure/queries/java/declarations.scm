; Java names with a declared type, visible in a scope (r1lsp/java/resolve.py). @decl is the
; declaration, @name its name, @type its type as written (`var` included), @value an
; initialiser, @iterable what an enhanced for walks, @lambda a lambda whose parameter it is.
(local_variable_declaration type: (_) @type
  declarator: (variable_declarator name: (identifier) @name value: (_)? @value)) @decl
(formal_parameter type: (_) @type name: (identifier) @name) @decl
(spread_parameter (_) @type (variable_declarator name: (identifier) @name)) @decl.varargs
(catch_formal_parameter (catch_type) @type name: (identifier) @name) @decl
(enhanced_for_statement type: (_) @type name: (identifier) @name value: (_) @iterable) @decl
(resource type: (_) @type name: (identifier) @name value: (_) @value) @decl
(instanceof_expression right: (_) @type name: (identifier) @name) @decl.pattern
(lambda_expression parameters: (identifier) @name) @lambda
(lambda_expression parameters: (inferred_parameters (identifier) @name)) @lambda
