; Java: the alternatives of one choice, for completion's ranking (r1lsp/completion_rank.py
; `branch_tested`): a switch's case labels and an if / else-if chain's conditions. @branch.test
; is what one alternative tests, @branch.chain the construct it belongs to (tests linked through a
; shared chain node are one choice: `else if` nests an if_statement in the one before it), and
; @branch.name a name a test compares with (a constant `Type.NAME`, an enum case `case NAME`;
; not a method: `s.equals("a")` / `else if (s.equals("b"))` test alike).

(switch_block (switch_block_statement_group (switch_label) @branch.test)) @branch.chain
(switch_block (switch_rule (switch_label) @branch.test)) @branch.chain
(if_statement condition: (_) @branch.test) @branch.chain
(if_statement alternative: (if_statement condition: (_) @branch.test)) @branch.chain

(field_access field: (identifier) @branch.name)
(switch_label (identifier) @branch.name)
