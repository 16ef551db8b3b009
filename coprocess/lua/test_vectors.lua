-- Checks warm_coprocess.lua's frame reader and run parser against
-- protocol-spec/coprocess-vectors.txt through a real socketpair, and its
-- writer of frames to the shim. Prints "ok <name>" per vector; exits 1 on
-- any failure.
package.path = arg[0]:match("^(.-)[^/]*$") .. "?.lua;" .. package.path
local ffi = require("ffi")
local warm = require("warm_coprocess")
ffi.cdef([[
int socketpair(int domain, int type, int protocol, int sv[2]);
long write(int fd, const void *buf, size_t len);
]])

local function render(b)
  return ' b"' .. b:gsub(".", function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    if c:byte() < 0x20 or c:byte() > 0x7e then return string.format("\\x%02x", c:byte()) end
  end) .. '"'
end

-- The frame written into one end of a socketpair (then closed), read from the other.
local function decode(frame)
  local sv = ffi.new("int[2]")
  assert(ffi.C.socketpair(1, 1, 0, sv) == 0)
  assert(ffi.C.write(sv[1], frame, #frame) == #frame)
  ffi.C.close(sv[1])
  local ok, argv, env, cwd, umask = pcall(function()
    local m = warm.recv_frame(sv[0])
    return warm.parse_run(m)
  end)
  ffi.C.close(sv[0])
  if not ok then return nil end
  local a, e = {}, {}
  for i, x in ipairs(argv) do a[i] = render(x) end
  for i, x in ipairs(env) do e[i] = render(x) end
  return { "argv" .. table.concat(a), "env" .. table.concat(e), "cwd" .. render(cwd), "umask " .. umask }
end

local function unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

local failed, block = false, nil
for line in io.lines(arg[1]) do
  local word, rest = line:match("^(%S+) ?(.*)$")
  if line == "" or line:sub(1, 1) == "#" then
    -- a comment
  elseif word == "run" or word == "reject" or word == "shim" then
    block = { kind = word, name = rest, hex = {}, want = {} }
  elseif word == "frame" then
    block.hex[#block.hex + 1] = rest
  elseif word == "end" then
    local frame, ok = unhex(table.concat(block.hex)), false
    if block.kind == "shim" then
      local a, b, c = block.want[1]:match("^(%S+) (%S+) ?(%S*)$")
      if a == "started" then ok = warm.shim_frame("started", tonumber(b)) == frame
      else ok = warm.shim_frame(b, tonumber(c)) == frame end
    else
      local got = decode(frame)
      if block.kind == "reject" then ok = got == nil
      else ok = got ~= nil and table.concat(got, "\n") == table.concat(block.want, "\n") end
    end
    print((ok and "ok " or "FAIL ") .. block.name)
    failed = failed or not ok
  else
    block.want[#block.want + 1] = line
  end
end
os.exit(failed and 1 or 0)
