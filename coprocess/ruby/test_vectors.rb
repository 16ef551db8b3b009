# Checks warm_coprocess.rb's frame reader and run parser against
# protocol-spec/coprocess-vectors.txt through a real socketpair, and its
# writer of frames to the shim. Prints
# "ok <name>" per vector; exits 1 on any failure.
require_relative "warm_coprocess"

def render(b)
  ' b"' + b.bytes.map { |c| c == 0x22 || c == 0x5c ? "\\" + c.chr : (0x20..0x7e).cover?(c) ? c.chr : format("\\x%02x", c) }.join + '"'
end

def decode(frame)
  a, b = UNIXSocket.pair
  writer = Thread.new { b.write(frame); b.close }
  m, = WarmCoprocess.recv_frame(a)
  WarmCoprocess.parse_run(m)
ensure
  writer&.join
  a&.close
end

failed = false
block = nil
File.foreach(ARGV[0]) do |line|
  line = line.chomp
  next if line.empty? || line.start_with?("#")
  word, rest = line.split(" ", 2)
  case word
  when "run", "reject", "shim" then block = { kind: word, name: rest, hex: +"", want: [] }
  when "frame" then block[:hex] << rest
  when "end"
    says = block[:want].first.to_s.split
    ok = if block[:kind] == "shim"
           kind, value = says[0] == "started" ? [:started, says[1]] : [says[1].to_sym, says[2]]
           WarmCoprocess.shim_frame(kind, Integer(value)) == [block[:hex]].pack("H*")
         else begin
      argv, env, cwd, umask = decode([block[:hex]].pack("H*"))
      got = ["argv" + argv.map { |a| render(a) }.join, "env" + env.map { |e| render(e) }.join, "cwd" + render(cwd), "umask #{umask}"]
      block[:kind] == "run" && got == block[:want]
    rescue ArgumentError, NoMethodError, TypeError
      block[:kind] == "reject"
    end
         end
    puts "#{ok ? 'ok' : 'FAIL'} #{block[:name]}"
    failed ||= !ok
  else block[:want] << line
  end
end
exit(failed ? 1 : 0)
