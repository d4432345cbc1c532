; Java declarations the workspace index keeps (r1lsp/java/workspace.py). Each capture is the
; whole declaration; its class is the nearest enclosing @class.
(package_declaration (_) @package)
(import_declaration) @import

(class_declaration) @class
(interface_declaration) @class
(enum_declaration) @class
(record_declaration) @class
(annotation_type_declaration) @class

(field_declaration) @field
(constant_declaration) @field
(enum_constant) @enum_constant
(method_declaration) @method
(annotation_type_element_declaration) @method
