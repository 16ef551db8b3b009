#!/usr/bin/env ruby
# warm: coprocess
# An example coprocess CLI in Ruby: prints its argv, cwd, umask, EX_*
# variables and stdin with --stdin; EX_EXIT / EX_SIGNAL pick how it ends,
# --raise raises; with EX_GATE=file it first prints its pid and waits for
# that file. The warm patch is the require_relative and the last line.
require_relative "warm_coprocess"

def main(argv)
  if ENV["EX_GATE"]
    puts "pid #{Process.pid}"
    $stdout.flush
    sleep 0.01 until File.exist?(ENV["EX_GATE"])
  end
  puts "argv #{argv.map { |a| a.b.inspect }.join(' ')}"
  puts "cwd #{Dir.pwd}"
  puts format("umask %03o", File.umask)
  puts "env #{ENV.keys.grep(/\AEX_/).sort.map { |k| "#{k}=#{ENV[k]}" }.join(' ')}"
  puts "tty #{[$stdin, $stdout, $stderr].map { |io| io.tty? ? 1 : 0 }.join}"
  $stderr.puts "to stderr"
  puts "stdin #{$stdin.read}" if argv.include?("--stdin")
  raise ArgumentError, "asked to" if argv.include?("--raise")
  $stdout.flush
  Process.kill(Integer(ENV["EX_SIGNAL"]), Process.pid) if ENV["EX_SIGNAL"]
  Integer(ENV.fetch("EX_EXIT", "0"))
end

WarmCoprocess.run(watch: [__FILE__], env: ["EX_DECLARED"]) { |argv| main(argv) }
