-- Make a LuaJIT tool a warm coprocess (protocol-spec/coprocess.md), fork mode.
--
--   local warm = require("warm_coprocess")   -- coprocess/lua, on package.path
--   warm.run(main, {watch = {arg[0]}})       -- main(args) as `arg`, returns the status
--
-- Started without WARM_COPROCESS_FD, run calls main(arg) and exits with its
-- status, as the tool always did. Started by the warm daemon, it says hello
-- and forks a child per invocation: fresh state, the caller's fds, cwd,
-- umask, environment and args. LuaJIT only: its FFI does the system calls
-- (recvmsg with SCM_RIGHTS, fork, waitpid), no C module.
local ffi = require("ffi")
local bit = require("bit")

ffi.cdef([[
typedef int pid_t;
struct warm_iovec { void *base; size_t len; };
struct warm_msghdr { void *name; unsigned int namelen; struct warm_iovec *iov; size_t iovlen; void *control; size_t controllen; int flags; };
struct warm_cmsghdr { size_t len; int level; int type; };
long recvmsg(int fd, struct warm_msghdr *msg, int flags);
long send(int fd, const void *buf, size_t len, int flags);
int close(int fd);
int dup2(int from, int to);
int fcntl(int fd, int cmd, ...);
pid_t fork(void);
pid_t setsid(void);
pid_t getpid(void);
pid_t waitpid(pid_t pid, int *status, int options);
void _exit(int status);
int chdir(const char *path);
unsigned int umask(unsigned int mask);
int clearenv(void);
int setenv(const char *name, const char *value, int overwrite);
int unsetenv(const char *name);
char *getenv(const char *name);
char *realpath(const char *path, char *resolved);
void free(void *p);
]])

local C = ffi.C
local M = {}
local MAX_FRAME = 16 * 1024 * 1024
local SOL_SOCKET, SCM_RIGHTS, MSG_NOSIGNAL, MSG_CMSG_CLOEXEC = 1, 1, 0x4000, 0x40000000
local F_SETFD, FD_CLOEXEC, EINTR = 2, 1, 4
local CMSG_HDR = ffi.sizeof("struct warm_cmsghdr")

-- JSON, as much as the protocol needs: decode any JSON text; encode strings, ints, booleans, lists and maps.
local decode_value
local LIST = {} -- the metatable of a JSON array (a table with its length in .n)
local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local function utf8_char(c)
  if c < 0x80 then return string.char(c) end
  if c < 0x800 then return string.char(0xc0 + bit.rshift(c, 6), 0x80 + bit.band(c, 0x3f)) end
  if c < 0x10000 then return string.char(0xe0 + bit.rshift(c, 12), 0x80 + bit.band(bit.rshift(c, 6), 0x3f), 0x80 + bit.band(c, 0x3f)) end
  return string.char(0xf0 + bit.rshift(c, 18), 0x80 + bit.band(bit.rshift(c, 12), 0x3f), 0x80 + bit.band(bit.rshift(c, 6), 0x3f), 0x80 + bit.band(c, 0x3f))
end

local function decode_string(s, i)
  local out, j = {}, i + 1
  while true do
    local k = s:find('["\\%z\1-\31]', j)
    if not k then error("unterminated string") end
    out[#out + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then return table.concat(out), k + 1 end
    if c ~= "\\" then error("control character in a string") end
    local e = s:sub(k + 1, k + 1)
    if e == "u" then
      local hex = s:sub(k + 2, k + 5)
      if not hex:match("^%x%x%x%x$") then error("bad \\u escape") end
      local code = tonumber(hex, 16)
      j = k + 6
      if code >= 0xd800 and code < 0xdc00 and s:sub(j, j + 1) == "\\u" then
        local low = tonumber(s:sub(j + 2, j + 5), 16)
        if low and low >= 0xdc00 and low < 0xe000 then
          code, j = 0x10000 + (code - 0xd800) * 0x400 + (low - 0xdc00), j + 6
        end
      end
      out[#out + 1] = utf8_char(code)
    elseif escapes[e] then
      out[#out + 1], j = escapes[e], k + 2
    else
      error("bad escape")
    end
  end
end

local function decode_list(s, i, close, item)
  local n, j = 0, skip(s, i + 1)
  if s:sub(j, j) == close then return j + 1 end
  while true do
    n = n + 1
    j = item(n, j)
    j = skip(s, j)
    local c = s:sub(j, j)
    if c == close then return j + 1 end
    if c ~= "," then error("expected , or " .. close) end
    j = skip(s, j + 1)
  end
end

decode_value = function(s, i)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local t = {}
    return t, decode_list(s, i, "}", function(_, j)
      if s:sub(j, j) ~= '"' then error("expected a key") end
      local key, k = decode_string(s, j)
      k = skip(s, k)
      if s:sub(k, k) ~= ":" then error("expected :") end
      local v
      v, k = decode_value(s, k + 1)
      t[key] = v
      return k
    end)
  elseif c == "[" then
    local t = setmetatable({ n = 0 }, LIST)
    return t, decode_list(s, i, "]", function(n, j)
      local v
      v, j = decode_value(s, j)
      t[n], t.n = v, n
      return j
    end)
  elseif c == '"' then
    return decode_string(s, i)
  elseif s:sub(i, i + 3) == "true" then
    return true, i + 4
  elseif s:sub(i, i + 4) == "false" then
    return false, i + 5
  elseif s:sub(i, i + 3) == "null" then
    return M.null, i + 4
  end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not num or num == "" or num == "-" then error("unexpected " .. (c == "" and "end" or c)) end
  return tonumber(num) or error("bad number"), i + #num
end

M.null = setmetatable({}, { __tostring = function() return "null" end })

--- The one JSON object in text (an error otherwise).
function M.json_decode(text)
  local ok, v, i = pcall(decode_value, text, 1)
  if not ok then error("frame is not JSON: " .. tostring(v), 0) end
  if type(v) ~= "table" or v == M.null or getmetatable(v) == LIST or skip(text, i) <= #text then error("frame is not one JSON object", 0) end
  return v
end

local function encode(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif t == "number" then
    return string.format("%d", v)
  elseif t == "boolean" then
    return tostring(v)
  end
  local parts = {}
  if getmetatable(v) == LIST then
    for i = 1, v.n do parts[i] = encode(v[i]) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  for k, x in pairs(v) do parts[#parts + 1] = encode(k) .. ":" .. encode(x) end
  return "{" .. table.concat(parts, ",") .. "}"
end
M.json_encode = encode

local function list(items)
  items.n = #items
  return setmetatable(items, LIST)
end

-- Base64, standard alphabet with padding; strict (an error on anything else).
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_VALUE = {}
for i = 1, 64 do B64_VALUE[B64:byte(i)] = i - 1 end

function M.base64_decode(s)
  if type(s) ~= "string" or #s % 4 ~= 0 then error("bytes must be base64 strings", 0) end
  local out = {}
  for i = 1, #s, 4 do
    local a, b, c, d = s:byte(i, i + 3)
    local last = i + 3 == #s
    local va, vb = B64_VALUE[a], B64_VALUE[b]
    local vc = B64_VALUE[c] or (last and c == 61 and d == 61 and 0)
    local vd = B64_VALUE[d] or (last and d == 61 and 0)
    if not (va and vb and vc and vd) then error("bytes must be base64 strings", 0) end
    local n = bit.bor(bit.lshift(va, 18), bit.lshift(vb, 12), bit.lshift(vc, 6), vd)
    local bytes = string.char(bit.rshift(n, 16), bit.band(bit.rshift(n, 8), 0xff), bit.band(n, 0xff))
    out[#out + 1] = bytes:sub(1, d == 61 and (c == 61 and 1 or 2) or 3)
  end
  return table.concat(out)
end

-- Exactly n bytes from fd (fewer at EOF); fds that come with them are added to fds.
local function read_exact(fd, n, fds)
  local buf = ffi.new("uint8_t[?]", n)
  local control = ffi.new("uint8_t[?]", CMSG_HDR + 64)
  local iov = ffi.new("struct warm_iovec[1]")
  local msg = ffi.new("struct warm_msghdr")
  local got = 0
  while got < n do
    iov[0].base, iov[0].len = buf + got, n - got
    msg.iov, msg.iovlen, msg.control, msg.controllen = iov, 1, control, CMSG_HDR + 64
    local r = tonumber(C.recvmsg(fd, msg, MSG_CMSG_CLOEXEC))
    if r < 0 and ffi.errno() ~= EINTR then error("recvmsg failed: errno " .. ffi.errno(), 0) end
    local at = 0
    while r >= 0 and at + CMSG_HDR <= tonumber(msg.controllen) do
      local h = ffi.cast("struct warm_cmsghdr *", control + at)
      local len = tonumber(h.len)
      if len < CMSG_HDR then break end
      if h.level == SOL_SOCKET and h.type == SCM_RIGHTS then
        local ints = ffi.cast("int *", control + at + CMSG_HDR)
        for k = 0, (len - CMSG_HDR) / 4 - 1 do fds[#fds + 1] = ints[k] end
      end
      at = at + bit.band(len + 7, -8)
    end
    if r == 0 then break end
    if r > 0 then got = got + r end
  end
  return ffi.string(buf, got)
end

--- One frame from the link: its object and fds; nil at EOF. Errors on a broken frame.
function M.recv_frame(fd)
  local fds = {}
  local head = read_exact(fd, 4, fds)
  if #head == 0 then return nil, fds end
  if #head < 4 then error("the link ended inside a frame", 0) end
  local a, b, c, d = head:byte(1, 4)
  local n = ((a * 256 + b) * 256 + c) * 256 + d
  if n < 1 or n > MAX_FRAME then error("frame length out of range", 0) end
  local stray = {}
  local body = read_exact(fd, n, stray)
  for _, s in ipairs(stray) do C.close(s) end
  if #body < n then error("the link ended inside a frame", 0) end
  return M.json_decode(body), fds
end

local function be32(n)
  return string.char(bit.band(bit.rshift(n, 24), 0xff), bit.band(bit.rshift(n, 16), 0xff), bit.band(bit.rshift(n, 8), 0xff), bit.band(n, 0xff))
end

-- Writes all of data to a socket; false if its peer is gone (never SIGPIPE).
local function write_all(fd, data)
  local at = 0
  while at < #data do
    local r = tonumber(C.send(fd, ffi.cast("const char *", data) + at, #data - at, MSG_NOSIGNAL))
    if r < 0 then
      if ffi.errno() ~= EINTR then return false end
    else
      at = at + r
    end
  end
  return true
end

function M.send_frame(fd, message)
  local body = encode(message)
  return write_all(fd, be32(#body) .. body)
end

--- A frame to the shim ("Frames to the shim"): kind "started" (value: the pid), "code" or "signal".
function M.shim_frame(kind, value)
  local body
  if kind == "started" then
    body = "\x83\xa1t\xa7started\xa3pid\xce" .. be32(value) .. "\xa4pgid\xce" .. be32(value)
  else
    body = "\x82\xa1t\xa4exit" .. (kind == "code" and "\xa4code" or "\xa6signal") .. "\xcc" .. string.char(bit.band(value, 0xff))
  end
  return be32(#body) .. body
end

--- argv, env (lists of byte strings), cwd, umask of a run message.
function M.parse_run(m)
  if getmetatable(m.argv) ~= LIST or getmetatable(m.env) ~= LIST then error("argv and env must be arrays", 0) end
  if type(m.umask) ~= "number" or m.umask % 1 ~= 0 then error("umask must be an int", 0) end
  local argv, env = {}, {}
  for i = 1, m.argv.n do argv[i] = M.base64_decode(m.argv[i]) end
  for i = 1, m.env.n do env[i] = M.base64_decode(m.env[i]) end
  return argv, env, M.base64_decode(m.cwd), m.umask
end

-- The status waitpid gave, as the protocol's keys: "code" or "signal", and the number.
local function status_of(st)
  local sig = bit.band(st, 0x7f)
  if sig ~= 0 and sig ~= 0x7f then return "signal", sig end
  return "code", bit.band(bit.rshift(st, 8), 0xff)
end

local function wait_for(pid)
  local st = ffi.new("int[1]")
  while C.waitpid(pid, st, 0) < 0 do
    if ffi.errno() ~= EINTR then return nil end
  end
  return status_of(st[0])
end

-- The child: takes on the caller's fds, cwd, umask and environment, runs main, and ends.
local function child(link, kids, fds, argv, env, cwd, umask, main, script)
  C.close(link)
  for _, client in pairs(kids) do C.close(client) end -- other runs' callers are none of this run's business
  C.setsid()
  local client, run_link = fds[4], fds[5]
  for i = 0, 2 do
    C.dup2(fds[i + 1], i)
    C.close(fds[i + 1])
  end
  if C.chdir(cwd) ~= 0 then C._exit(255) end
  C.umask(umask)
  C.clearenv()
  for _, entry in ipairs(env) do
    local name, value = entry:match("^([^=]+)=(.*)$")
    if name and C.getenv(name) == nil then C.setenv(name, value, 1) end
  end
  M.send_frame(run_link, { t = "taken", pid = C.getpid() })
  if not write_all(client, M.shim_frame("started", C.getpid())) then C._exit(0) end -- the shim ran the command itself
  local args = { [0] = script }
  for i = 2, #argv do args[i - 1] = argv[i] end
  _G.arg = args
  local ok, code = xpcall(main, debug.traceback, args)
  if not ok then
    io.stderr:write("luajit: ", tostring(code), "\n")
    code = 1
  end
  code = type(code) == "number" and bit.band(code, 0xff) or 0
  io.stdout:flush()
  io.stderr:flush()
  for i = 0, 2 do C.close(i) end
  -- The daemon first: a caller that goes before the daemon has `exit` went mid-run.
  M.send_frame(run_link, { t = "exit", code = code })
  write_all(client, M.shim_frame("code", code))
  C.close(client)
  C._exit(code)
end

-- Reaps child pid; tells its shim how it ended when asked; the status as the daemon's exit keys.
local function reap(kids, pid, tell)
  local client = kids[pid]
  kids[pid] = nil
  local key, value = wait_for(pid)
  if not key then key, value, tell = "code", 255, false end
  if client then
    if tell then write_all(client, M.shim_frame(key, value)) end
    C.close(client)
  end
  return { t = "exit", pid = pid, [key] = value }
end

-- Every Lua file the start-up loaded (package.loaded, found on package.path): a change to any restarts the coprocess.
local function loaded_files()
  local files = {}
  for name in pairs(package.loaded) do
    local path = type(name) == "string" and package.searchpath(name, package.path)
    if path then files[#files + 1] = path end
  end
  return files
end

local function absolute(path)
  local p = C.realpath(path, nil)
  if p == nil then return nil end
  local s = ffi.string(p)
  C.free(p)
  return s
end

local function serve(main, opts)
  local text = os.getenv("WARM_COPROCESS_FD")
  if not text then return false end
  C.unsetenv("WARM_COPROCESS_FD")
  local link = tonumber(text)
  C.fcntl(link, F_SETFD, ffi.cast("int", FD_CLOEXEC))
  local watch, seen = {}, {}
  for _, list_of in ipairs({ opts.watch or {}, loaded_files() }) do
    for _, p in ipairs(list_of) do
      local abs = absolute(p)
      if abs and not seen[abs] then watch[#watch + 1], seen[abs] = abs, true end
    end
  end
  if not M.send_frame(link, { t = "hello", v = 2, mode = "fork", pid = C.getpid(), watch = list(watch), env = list(opts.env or {}) }) then return true end
  local kids = {} -- pid -> client link of each child not reaped yet
  while true do
    local ok, m, fds = pcall(M.recv_frame, link)
    if not ok or not m then
      -- The daemon is gone (or let this coprocess go): each child still running finishes, and its shim hears how it ended.
      for pid in pairs(kids) do reap(kids, pid, true) end
      return true
    end
    if m.t == "wait" and type(m.pid) == "number" then
      if not M.send_frame(link, reap(kids, m.pid, m.tell == true)) then return true end
    elseif m.t == "run" and #fds == 5 then
      local parsed, argv, env, cwd, umask = pcall(M.parse_run, m)
      if parsed then
        io.stdout:flush() -- a child must not write the coprocess's buffered output again
        io.stderr:flush()
        local pid = C.fork()
        if pid == 0 then child(link, kids, fds, argv, env, cwd, umask, main, arg and arg[0]) end
        if pid > 0 then kids[pid] = table.remove(fds, 4) end
      end
    end
    for _, fd in ipairs(fds) do C.close(fd) end
  end
end

--- The tool's entry: a coprocess when the daemon started it, else main(arg), as always; exits with the status.
function M.run(main, opts)
  if serve(main, opts or {}) then os.exit(0) end
  local code = main(arg)
  os.exit(type(code) == "number" and code or 0)
end

return M
