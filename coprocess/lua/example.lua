#!/usr/bin/env luajit
-- warm: coprocess
-- An example coprocess CLI in LuaJIT: prints its args (bytes as hex when not
-- printable), cwd, umask, EX_* variables and stdin with --stdin; EX_EXIT /
-- EX_SIGNAL pick how it ends; with EX_GATE=file it first prints its pid and
-- waits for that file. The warm patch is the package.path and require lines
-- and the last line.
package.path = arg[0]:match("^(.-)[^/]*$") .. "?.lua;" .. package.path
local warm = require("warm_coprocess")
local ffi = require("ffi")
ffi.cdef([[
char *getcwd(char *buf, size_t size);
int isatty(int fd);
int raise(int sig);
int access(const char *path, int mode);
int usleep(unsigned int usec);
extern char **environ;
]])
local C = ffi.C

local function main(args)
  if os.getenv("EX_GATE") then
    io.write("pid ", C.getpid(), "\n")
    io.stdout:flush()
    while C.access(os.getenv("EX_GATE"), 0) ~= 0 do C.usleep(10000) end
  end
  io.write("argc ", #args + 1, "\n")
  for i = 1, #args do
    io.write("arg ", (args[i]:gsub("[^\33-\91\93-\126]", function(c) return string.format("\\x%02x", c:byte()) end)), "\n")
  end
  local cwd = ffi.new("char[4096]")
  local mask = C.umask(0)
  C.umask(mask)
  io.write("cwd ", C.getcwd(cwd, 4096) ~= nil and ffi.string(cwd) or "?", "\n", string.format("umask %03o\n", mask))
  local env, i = {}, 0
  while C.environ[i] ~= nil do
    local e = ffi.string(C.environ[i])
    if e:sub(1, 3) == "EX_" then env[#env + 1] = e end
    i = i + 1
  end
  table.sort(env)
  for _, e in ipairs(env) do io.write("env ", e, "\n") end
  io.write("tty ", C.isatty(0), C.isatty(1), C.isatty(2), "\n")
  io.stderr:write("to stderr\n")
  if args[1] == "--stdin" then
    for chunk in io.stdin:lines(4096) do io.write(chunk) end
  end
  io.stdout:flush()
  if os.getenv("EX_SIGNAL") then C.raise(tonumber(os.getenv("EX_SIGNAL"))) end
  return tonumber(os.getenv("EX_EXIT") or "0")
end

warm.run(main, { watch = { arg[0] }, env = { "EX_DECLARED" } })
