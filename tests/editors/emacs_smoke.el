;;; emacs_smoke.el --- Emacs 28 + eglot 1.9 smoke test of r1lsp  -*- lexical-binding: t -*-
;;
;;   emacs --batch -Q -l tests/editors/emacs_smoke.el
;;
;; Environment (set by tests/test_editors.py):
;;   R1LSP_PYTHON      interpreter that has r1lsp (sys.executable)
;;   R1LSP_JAVA_FILE   a copy of tests/editors/Counter.java inside a scratch workspace
;;   R1LSP_CHECKPOINT  a model checkpoint folder (expert diagnostics need a model)
;;   R1LSP_TIMEOUT_MS  bound of each wait (default 45000)
;; Prints "ok: ID ..." / "FAIL: ID ..." lines; exits 0 only when every check passed.

(require 'package)
;; -Q skips site-start: find Debian's elpa-eglot (and its project/xref) ourselves.
(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
(require 'eglot)
(require 'cc-mode)
(require 'json)

(defvar r1-python (or (getenv "R1LSP_PYTHON") (error "R1LSP_PYTHON not set")))
(defvar r1-java-file (or (getenv "R1LSP_JAVA_FILE") (error "R1LSP_JAVA_FILE not set")))
(defvar r1-checkpoint (let ((c (getenv "R1LSP_CHECKPOINT"))) (and c (not (string= c "")) c)))
(defvar r1-timeout (/ (string-to-number (or (getenv "R1LSP_TIMEOUT_MS") "45000")) 1000.0))
(defvar r1-root (file-name-directory r1-java-file))
(defvar r1-failures 0)
(defvar r1-published nil "Expert diagnostics (plists) the server published for the Java file.")

(defun r1-say (fmt &rest args)
  (princ (concat (apply #'format fmt args) "\n")))

(defun r1-check (ok id detail)
  (if ok
      (r1-say "ok: %s" id)
    (setq r1-failures (1+ r1-failures))
    (r1-say "FAIL: %s -- %s" id detail))
  ok)

(defun r1-wait (pred)
  "Process events until PRED is non-nil or `r1-timeout' seconds pass; return PRED's value."
  (let ((deadline (+ (float-time) r1-timeout)) value)
    (while (and (not (setq value (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    value))

(defun r1-finish ()
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (r1-say (if (= r1-failures 0) "VERDICT: pass" (format "VERDICT: fail (%d)" r1-failures)))
  (kill-emacs (min r1-failures 100)))

;; The scratch workspace is the project (a transient project: no VCS needed).
(add-hook 'project-find-functions (lambda (_dir) (cons 'transient r1-root)))

(let ((options (list :features '(:inlineCompletion :json-false))))
  (when r1-checkpoint
    (setq options (append options (list :model (list :path r1-checkpoint :device "cpu")
                                        :diagnostics '(:debounceMs 0)))))
  (add-to-list 'eglot-server-programs
               `(java-mode ,r1-python "-m" "r1lsp" "serve" :initializationOptions ,options)))

;; Record every publishDiagnostics for our file before eglot hands it to flymake.
(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (when (eq method 'textDocument/publishDiagnostics)
                (dolist (d (append (plist-get params :diagnostics) nil))
                  (when (equal (plist-get d :code) "r1lsp.experts")
                    (push d r1-published))))))

(setq eglot-sync-connect t
      eglot-connect-timeout r1-timeout
      eglot-autoreconnect nil
      eglot-events-buffer-size 0)

(defun r1-check-completion (server)
  "Completion after `return this.tot': the field `total'."
  (goto-char (point-min))
  (search-forward "return this.tot")
  (let* ((result (jsonrpc-request server :textDocument/completion (eglot--TextDocumentPositionParams)))
         (items (if (vectorp result) result (plist-get result :items)))
         (labels (mapcar (lambda (i) (plist-get i :label)) items)))
    (r1-check (member "total" labels) "completion: offers the field \"total\""
              (mapconcat #'identity labels ", "))))

(defun r1-run-translation (server id action)
  "eglot 1.9 has no CreateFile: the action carries the command, and executing it makes the
server write the .py file itself (inside the workspace)."
  (let ((command (plist-get action :command)))
    (if (not command)
        (r1-check nil id (format "no command in %S" action))
      (condition-case e
          (let* ((answer (jsonrpc-request server :workspace/executeCommand
                                          (list :command (plist-get command :command)
                                                :arguments (plist-get command :arguments))))
                 (path (plist-get answer :path)))
            (r1-say "  %s wrote %s" id path)
            (r1-check (and path (file-exists-p path)
                           (with-temp-buffer (insert-file-contents path)
                                             (search-forward "def count" nil t)))
                      (concat id ": the server wrote the .py file") (format "%S" answer)))
        (error (r1-check nil id (format "%S" e)))))))

(defun r1-check-code-actions (server)
  "Code actions inside method `count' (point is there): titles, then run both."
  (let* ((pos (eglot--pos-to-lsp-position (point)))
         (actions (append (jsonrpc-request server :textDocument/codeAction
                                           (list :textDocument (eglot--TextDocumentIdentifier)
                                                 :range (list :start pos :end pos)
                                                 :context (list :diagnostics [])))
                          nil))
         (titles (mapconcat (lambda (a) (plist-get a :title)) actions " | "))
         (method (seq-find (lambda (a) (equal (plist-get a :title) "Translate Java → Python: method count")) actions))
         (whole (seq-find (lambda (a) (equal (plist-get a :title) "Translate Java → Python: whole file")) actions)))
    (r1-check method "code-action-method: \"Translate Java → Python: method count\" offered" titles)
    (r1-check whole "code-action-file: \"Translate Java → Python: whole file\" offered" titles)
    (when method (r1-run-translation server "translate-method" method))
    (when whole (r1-run-translation server "translate-whole-file" whole))))

(defun r1-check-diagnostics ()
  "Expert diagnostics (they need a model): wait for them, bounded."
  (r1-wait (lambda () r1-published))
  (r1-check r1-published "diagnostics: expert diagnostics published (code r1lsp.experts)" "none")
  (when r1-published
    (let ((d (car (last r1-published))))
      (r1-check (equal (plist-get d :source) "r1lsp experts")
                "diagnostics-source: their source is \"r1lsp experts\"" (format "%S" (plist-get d :source)))
      (r1-say "  first: %s" (replace-regexp-in-string "\n" " " (plist-get d :message))))
    (r1-check (r1-wait (lambda () (flymake-diagnostics)))
              "diagnostics-shown: flymake shows them" "flymake-diagnostics is empty")))

(condition-case failure
    (progn
      (find-file r1-java-file)
      (java-mode)
      (apply #'eglot (eglot--guess-contact))
      (when (r1-check (r1-wait (lambda () (and (eglot-current-server) (eglot-managed-p))))
                      "initialize: eglot connected and manages the buffer" "no server")
        (let ((server (eglot-current-server)))
          (r1-check-completion server)
          (r1-check-code-actions server)
          (if r1-checkpoint
              (r1-check-diagnostics)
            (r1-say "skip: expert diagnostics (no R1LSP_CHECKPOINT)")))))
  (error (r1-check nil "run" (format "%S" failure))))

(r1-finish)
