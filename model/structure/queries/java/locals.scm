; Java: scopes and the names a completion can offer. Capture vocabulary as in python/locals.scm:
;   @local.scope @local.scope.class @local.self
;   @def.class @def.method @def.field @def.parameter @def.variable @def.import
;   @use.receiver + @use.member / @use.method   @decl.name + @decl.type

[(program) (method_declaration) (constructor_declaration) (lambda_expression) (block)
 (for_statement) (enhanced_for_statement) (catch_clause) (try_with_resources_statement)] @local.scope
[(class_body) (interface_body) (enum_body) (record_declaration)] @local.scope.class

((this) @local.self (#eq? @local.self "this"))

(class_declaration name: (identifier) @def.class)
(interface_declaration name: (identifier) @def.class)
(enum_declaration name: (identifier) @def.class)
(record_declaration name: (identifier) @def.class)

(method_declaration name: (identifier) @def.method)
(field_declaration declarator: (variable_declarator name: (identifier) @def.field))
(constant_declaration declarator: (variable_declarator name: (identifier) @def.field))
(enum_constant name: (identifier) @def.field)

(formal_parameter name: (identifier) @def.parameter)
(spread_parameter (variable_declarator name: (identifier) @def.parameter))
(catch_formal_parameter name: (identifier) @def.parameter)
(lambda_expression parameters: (identifier) @def.parameter)
(inferred_parameters (identifier) @def.parameter)

(local_variable_declaration declarator: (variable_declarator name: (identifier) @def.variable))
(enhanced_for_statement name: (identifier) @def.variable)
(resource name: (identifier) @def.variable)

(import_declaration (scoped_identifier name: (identifier) @def.import))

(method_invocation object: (_) @use.receiver name: (identifier) @use.method)
(field_access object: (_) @use.receiver field: (identifier) @use.member)

(local_variable_declaration type: (_) @decl.type declarator: (variable_declarator name: (identifier) @decl.name))
(field_declaration type: (_) @decl.type declarator: (variable_declarator name: (identifier) @decl.name))
(formal_parameter type: (_) @decl.type name: (identifier) @decl.name)
