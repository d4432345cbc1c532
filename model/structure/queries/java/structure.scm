; Java -> the r1lsp hierarchy. Capture vocabulary:
;   @paragraph  block-level unit        @sentence  statement / declaration line
;   @phrase     expression-level unit   (definitions and their names: tags.scm)
; Each token belongs to the innermost captured unit of each level (a sentence only inside its
; paragraph, a phrase only inside its sentence); where none applies the mapper synthesizes one
; (the token as its phrase, the line as sentence, a blank-line separated run as paragraph).
; Patterns decide on a node's own type and its ancestors only, never on what is inside it:
; incremental remapping relies on that.

; ---- paragraphs ------------------------------------------------------------------------
[
  (class_declaration)
  (interface_declaration)
  (enum_declaration)
  (record_declaration)
  (annotation_type_declaration)
  (method_declaration)
  (constructor_declaration)
  (compact_constructor_declaration)
  (static_initializer)
] @paragraph

; ---- sentences -------------------------------------------------------------------------
[
  (package_declaration)
  (import_declaration)
  (module_declaration)
  (field_declaration)
  (constant_declaration)
  (annotation_type_element_declaration)
  (enum_constant)
  (local_variable_declaration)
  (expression_statement)
  (return_statement)
  (if_statement)
  (for_statement)
  (enhanced_for_statement)
  (while_statement)
  (do_statement)
  (try_statement)
  (try_with_resources_statement)
  (catch_clause)
  (finally_clause)
  (switch_expression)
  (switch_block_statement_group)
  (switch_rule)
  (throw_statement)
  (break_statement)
  (continue_statement)
  (yield_statement)
  (assert_statement)
  (synchronized_statement)
  (labeled_statement)
  (explicit_constructor_invocation)
] @sentence

; ---- phrases ---------------------------------------------------------------------------
[
  (method_invocation)
  (field_access)
  (array_access)
  (argument_list)
  (binary_expression)
  (unary_expression)
  (update_expression)
  (assignment_expression)
  (ternary_expression)
  (cast_expression)
  (instanceof_expression)
  (parenthesized_expression)
  (object_creation_expression)
  (array_creation_expression)
  (array_initializer)
  (lambda_expression)
  (method_reference)
  (class_literal)
  (string_literal)
  (variable_declarator)
  (formal_parameters)
  (formal_parameter)
  (spread_parameter)
  (inferred_parameters)
  (type_parameters)
  (type_arguments)
  (generic_type)
  (array_type)
  (scoped_identifier)
  (scoped_type_identifier)
  (marker_annotation)
  (annotation)
  (element_value_pair)
  (switch_label)
  (throws)
  (superclass)
  (super_interfaces)
  (resource_specification)
  (catch_formal_parameter)
  (dimensions)
] @phrase
