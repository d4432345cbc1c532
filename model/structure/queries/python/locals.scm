; Python: scopes and the names a completion can offer (r1lsp/completion.py). Capture vocabulary:
;   @local.scope        a node whose extent a name defined in it is visible in (node kinds only)
;   @local.scope.class  the same, for a scope whose names are members (fields, methods)
;   @local.self         the receiver that means "this object" (its quoted names)
;   @def.class @def.function @def.parameter @def.variable @def.import @def.self_field
;       a name defined here; its scope is the innermost @local.scope around it
;   @use.receiver + @use.member / @use.method   a member seen used on a receiver
;   @decl.name + @decl.type                     a name whose type (a class name) is known

[(module) (function_definition) (lambda) (list_comprehension) (set_comprehension)
 (dictionary_comprehension) (generator_expression)] @local.scope
(class_definition) @local.scope.class

((identifier) @local.self (#any-of? @local.self "self" "cls"))

(function_definition name: (identifier) @def.function)
(class_definition name: (identifier) @def.class)

(parameters (identifier) @def.parameter)
(parameters (default_parameter name: (identifier) @def.parameter))
(parameters (typed_parameter . (identifier) @def.parameter))
(parameters (typed_default_parameter name: (identifier) @def.parameter))
(parameters (list_splat_pattern (identifier) @def.parameter))
(parameters (dictionary_splat_pattern (identifier) @def.parameter))
(lambda_parameters (identifier) @def.parameter)
(lambda_parameters (default_parameter name: (identifier) @def.parameter))

(assignment left: (identifier) @def.variable)
(assignment left: (pattern_list (identifier) @def.variable))
(assignment left: (tuple_pattern (identifier) @def.variable))
(augmented_assignment left: (identifier) @def.variable)
(for_statement left: (identifier) @def.variable)
(for_statement left: (pattern_list (identifier) @def.variable))
(for_statement left: (tuple_pattern (identifier) @def.variable))
(for_in_clause left: (identifier) @def.variable)
(for_in_clause left: (pattern_list (identifier) @def.variable))
(named_expression name: (identifier) @def.variable)
(as_pattern alias: (as_pattern_target (identifier) @def.variable))
(global_statement (identifier) @def.variable)

(import_statement name: (dotted_name . (identifier) @def.import))
(import_statement name: (aliased_import alias: (identifier) @def.import))
(import_from_statement name: (dotted_name (identifier) @def.import .))
(import_from_statement name: (aliased_import alias: (identifier) @def.import))

(assignment
  left: (attribute object: (identifier) @_self attribute: (identifier) @def.self_field)
  (#eq? @_self "self"))

(call function: (attribute object: (_) @use.receiver attribute: (identifier) @use.method))
(attribute object: (_) @use.receiver attribute: (identifier) @use.member)

(typed_parameter . (identifier) @decl.name type: (type (identifier) @decl.type))
(typed_default_parameter name: (identifier) @decl.name type: (type (identifier) @decl.type))
(assignment left: (identifier) @decl.name type: (type (identifier) @decl.type))
(assignment left: (identifier) @decl.name right: (call function: (identifier) @decl.type))
