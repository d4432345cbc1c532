; Java: the alternatives of one choice, for completion's ranking (r1lsp/completion_rank.py
; `branch_tested`): a switch's case labels and an if / else-if chain's conditions. @branch.test
; is what one alternative tests, @branch.chain the construct it belongs to (tests linked through a
; shared chain node are one choice: `else if` nests an if_statement in the one before it), and
; @branch.name a constant a test compares with (`Type.NAME` spelled as constants are, an enum
; case `case NAME`; not the subject the alternatives share, `this.value == 1` / `else if
; (this.value == 2)`, nor a method: `s.equals("a")` / `else if (s.equals("b"))`).

(switch_block (switch_block_statement_group (switch_label) @branch.test)) @branch.chain
(switch_block (switch_rule (switch_label) @branch.test)) @branch.chain
(if_statement condition: (_) @branch.test) @branch.chain
(if_statement alternative: (if_statement condition: (_) @branch.test)) @branch.chain

((field_access field: (identifier) @branch.name) (#match? @branch.name "^[A-Z][A-Z0-9_]*$"))
(switch_label (identifier) @branch.name)
