-- Neovim (0.7.2, vim.lsp.start_client) smoke test of r1lsp:
--   nvim --headless -u NONE -i NONE -c 'luafile tests/editors/nvim_smoke.lua'
-- Environment (set by tests/test_editors.py):
--   R1LSP_PYTHON      interpreter that has r1lsp (sys.executable)
--   R1LSP_JAVA_FILE   a copy of tests/editors/Counter.java inside a scratch workspace
--   R1LSP_CHECKPOINT  a model checkpoint folder (expert diagnostics need a model)
--   R1LSP_TIMEOUT_MS  bound of each wait (default 45000)
-- Prints "ok: …" / "FAIL: …" lines and exits 0 only when every check passed.

local python = assert(os.getenv('R1LSP_PYTHON'), 'R1LSP_PYTHON not set')
local java_file = assert(os.getenv('R1LSP_JAVA_FILE'), 'R1LSP_JAVA_FILE not set')
local checkpoint = os.getenv('R1LSP_CHECKPOINT')
local timeout = tonumber(os.getenv('R1LSP_TIMEOUT_MS') or '45000')
local root = vim.fn.fnamemodify(java_file, ':h')
local failures = 0

local function say(line)
  io.stdout:write(line .. '\n')
  io.stdout:flush()
end

local function check(ok, what, detail)
  if ok then
    say('ok: ' .. what)
  else
    failures = failures + 1
    say('FAIL: ' .. what .. (detail and (' -- ' .. detail) or ''))
  end
  return ok
end

local function finish()
  for _, client in pairs(vim.lsp.get_active_clients()) do
    client.stop()
  end
  vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
  say(failures == 0 and 'VERDICT: pass' or ('VERDICT: fail (' .. failures .. ')'))
  if failures == 0 then
    vim.cmd('qall!')
  else
    vim.cmd('cquit ' .. math.min(failures, 100))
  end
end

-- Every publishDiagnostics the server sends, by URI (the default handler still runs).
local published = {}
local exited = false

local init_options = { features = { inlineCompletion = false } }
if checkpoint and checkpoint ~= '' then
  init_options.model = { path = checkpoint, device = 'cpu' }
  init_options.diagnostics = { debounceMs = 0 }
end

local client_id = vim.lsp.start_client({
  name = 'r1lsp',
  cmd = { python, '-m', 'r1lsp', 'serve' },
  root_dir = root,
  workspace_folders = { { uri = vim.uri_from_fname(root), name = 'smoke' } },
  init_options = init_options,
  handlers = {
    ['textDocument/publishDiagnostics'] = function(err, result, ctx, config)
      published[result.uri] = result.diagnostics
      return vim.lsp.diagnostic.on_publish_diagnostics(err, result, ctx, config)
    end,
    -- Keep the headless run quiet: messages go to stdout instead of the message area.
    ['window/showMessage'] = function(_, result) say('server says: ' .. result.message) end,
    ['window/logMessage'] = function() end,
  },
  on_exit = function(code)
    exited = true
    if code ~= 0 then say('server exited with ' .. tostring(code)) end
  end,
})
if not check(client_id ~= nil, 'start: start_client') then
  return finish()
end

vim.cmd('edit ' .. vim.fn.fnameescape(java_file))
vim.bo.filetype = 'java'
local bufnr = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(bufnr, client_id)
local client = vim.lsp.get_client_by_id(client_id)

local initialized = vim.wait(timeout, function()
  return exited or (client.server_capabilities ~= nil and next(client.server_capabilities) ~= nil and vim.lsp.buf_is_attached(bufnr, client_id))
end, 50)
if not check(initialized and not exited, 'initialize: server initialized and the buffer attached') then
  return finish()
end

local uri = vim.uri_from_bufnr(bufnr)
local function request(method, params)
  local response, err = client.request_sync(method, params, timeout, bufnr)
  if not response then
    return nil, tostring(err)
  end
  if response.err then
    return nil, vim.inspect(response.err)
  end
  return response.result
end

-- 1. Completion after `return this.tot` (line 14, 0-based 13): the field `total`.
local line = vim.api.nvim_buf_get_lines(bufnr, 13, 14, false)[1]
local col = assert(line:find('this%.tot')) + #'this.tot' - 1
local result, err = request('textDocument/completion', { textDocument = { uri = uri }, position = { line = 13, character = col } })
local labels = {}
for _, item in ipairs((result and (result.items or result)) or {}) do
  labels[#labels + 1] = item.label
end
check(vim.tbl_contains(labels, 'total'), 'completion: offers the field "total"', err or table.concat(labels, ', '))

-- 2. Code actions inside method `count`: translate that method, and the whole file.
result, err = request('textDocument/codeAction', {
  textDocument = { uri = uri },
  range = { start = { line = 13, character = 10 }, ['end'] = { line = 13, character = 10 } },
  context = { diagnostics = {} },
})
local titles, offered = {}, {}
for _, action in ipairs(result or {}) do
  titles[#titles + 1] = action.title
  offered[action.title] = action
end
local joined = table.concat(titles, ' | ')
local method = offered['Translate Java → Python: method count']
local whole = offered['Translate Java → Python: whole file']
check(method ~= nil, 'code-action-method: "Translate Java → Python: method count" offered', err or joined)
check(whole ~= nil, 'code-action-file: "Translate Java → Python: whole file" offered', err or joined)

-- 3. Run a translation as Neovim does: resolve if needed, then apply the edit (CreateFile +
--    text) or execute the command the server answers with. The new .py file must exist.
local function run_translation(action, id)
  local created, answer
  if action.edit == nil and action.command == nil then
    action, err = request('codeAction/resolve', action)
    if not action then
      return check(false, id, 'codeAction/resolve: ' .. err)
    end
  end
  if action.edit then
    for _, change in ipairs(action.edit.documentChanges or {}) do
      if change.kind == 'create' then created = vim.uri_to_fname(change.uri) end
    end
    vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
    vim.cmd('silent! wall')
  elseif action.command then
    answer, err = request('workspace/executeCommand', { command = action.command.command, arguments = action.command.arguments })
    if not answer then
      return check(false, id, 'workspace/executeCommand: ' .. err:gsub('\n', ' '):sub(1, 300))
    end
    created = answer.path
    vim.cmd('silent! wall') -- a client with resourceOperations got it through workspace/applyEdit
  end
  if not created then
    return check(false, id, 'neither an edit creating a file nor a command')
  end
  local written = vim.wait(timeout, function() return vim.fn.filereadable(created) == 1 end, 50)
  local text = written and table.concat(vim.fn.readfile(created), '\n') or ''
  say('  ' .. id .. ' wrote ' .. created)
  return check(written and text:find('def count') ~= nil, id .. ': the .py file exists and holds the translation', created)
end
if method then run_translation(method, 'translate-method') end
if whole then run_translation(whole, 'translate-whole-file') end

-- 4. Expert diagnostics (one per paragraph, code r1lsp.experts) — they need a model.
if checkpoint and checkpoint ~= '' then
  local function experts()
    local found = {}
    for _, d in ipairs(published[uri] or {}) do
      if d.code == 'r1lsp.experts' then found[#found + 1] = d end
    end
    return found
  end
  vim.wait(timeout, function() return #experts() > 0 end, 100)
  local found = experts()
  check(#found > 0, 'diagnostics: expert diagnostics published (code r1lsp.experts)', #found .. ' found')
  if #found > 0 then
    check(found[1].source == 'r1lsp experts', 'diagnostics-source: their source is "r1lsp experts"', tostring(found[1].source))
    say('  first: line ' .. found[1].range.start.line + 1 .. ': ' .. found[1].message:gsub('\n', ' '))
    check(#vim.diagnostic.get(bufnr) > 0, 'diagnostics-shown: Neovim shows them (vim.diagnostic.get)')
  end
else
  say('skip: expert diagnostics (no R1LSP_CHECKPOINT)')
end

finish()
