; Python -> the r1lsp hierarchy. Capture vocabulary:
;   @paragraph  block-level unit        @sentence  statement / clause header line
;   @phrase     expression-level unit   (definitions and their names: tags.scm)
; Each token belongs to the innermost captured unit of each level (a sentence only inside its
; paragraph, a phrase only inside its sentence); where none applies the mapper synthesizes one
; (the token as its phrase, the line as sentence, a blank-line separated run of top-level
; statements as paragraph). Patterns decide on a node's own type and its ancestors only.

; ---- paragraphs ------------------------------------------------------------------------
; A decorated definition is one paragraph with its decorators; a bare one is its own.
(decorated_definition) @paragraph
(module [(function_definition) (class_definition)] @paragraph)
(block [(function_definition) (class_definition)] @paragraph)
; top-level compound statements are block-level units too
(module
  [
    (if_statement)
    (for_statement)
    (while_statement)
    (try_statement)
    (with_statement)
    (match_statement)
  ] @paragraph)

; ---- sentences -------------------------------------------------------------------------
[
  (expression_statement)
  (return_statement)
  (import_statement)
  (import_from_statement)
  (future_import_statement)
  (pass_statement)
  (break_statement)
  (continue_statement)
  (raise_statement)
  (assert_statement)
  (delete_statement)
  (global_statement)
  (nonlocal_statement)
  (type_alias_statement)
  (if_statement)
  (elif_clause)
  (else_clause)
  (for_statement)
  (while_statement)
  (try_statement)
  (except_clause)
  (finally_clause)
  (with_statement)
  (match_statement)
  (case_clause)
  (decorator)
] @sentence

; ---- phrases ---------------------------------------------------------------------------
[
  (call)
  (attribute)
  (subscript)
  (slice)
  (argument_list)
  (keyword_argument)
  (binary_operator)
  (boolean_operator)
  (comparison_operator)
  (not_operator)
  (unary_operator)
  (conditional_expression)
  (named_expression)
  (assignment)
  (augmented_assignment)
  (lambda)
  (await)
  (yield)
  (list)
  (tuple)
  (set)
  (dictionary)
  (pair)
  (list_comprehension)
  (set_comprehension)
  (dictionary_comprehension)
  (generator_expression)
  (for_in_clause)
  (if_clause)
  (parenthesized_expression)
  (string)
  (concatenated_string)
  (interpolation)
  (parameters)
  (lambda_parameters)
  (typed_parameter)
  (default_parameter)
  (typed_default_parameter)
  (list_splat_pattern)
  (dictionary_splat_pattern)
  (type)
  (dotted_name)
  (aliased_import)
  (with_item)
] @phrase
