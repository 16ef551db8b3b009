# Make a Ruby tool a warm coprocess (protocol-spec/coprocess.md), fork mode.
#
#   require_relative "warm_coprocess"
#   WarmCoprocess.run(watch: [__FILE__]) { |argv| main(argv) }   # the block's Integer is the status
#
# Started without WARM_COPROCESS_FD, run calls the block with ARGV and exits
# with its status, as the tool always did. Started by the warm daemon, it
# says hello and forks a child per invocation: fresh state, the caller's fds,
# cwd, umask, ENV and ARGV. A child ends as a ruby process ends (exit,
# uncaught exceptions, at_exit handlers, signals); the coprocess reports how.
# Standard library only.
require "json"
require "socket"

module WarmCoprocess
  MAX_FRAME = 16 * 1024 * 1024

  module_function

  # Exactly n bytes (fewer at EOF); IOs that come with them are appended to ios.
  def read_exact(sock, n, ios)
    data = "".b
    while data.bytesize < n
      msg, _, _, *controls = sock.recvmsg(n - data.bytesize, 0, nil, scm_rights: true)
      controls.each { |c| ios.concat(c.unix_rights || []) if c.cmsg_is?(:SOCKET, :RIGHTS) }
      break if msg.nil? || msg.empty?
      data << msg
    end
    data
  end

  # [message, ios], or [nil, []] at EOF. Raises ArgumentError on a broken frame.
  def recv_frame(sock)
    ios = []
    head = read_exact(sock, 4, ios)
    return [nil, ios] if head.empty?
    raise ArgumentError, "the link ended inside a frame" if head.bytesize < 4
    n = head.unpack1("N")
    raise ArgumentError, "frame length out of range" if n < 1 || n > MAX_FRAME
    stray = []
    body = read_exact(sock, n, stray)
    stray.each(&:close)
    raise ArgumentError, "the link ended inside a frame" if body.bytesize < n
    message = JSON.parse(body.force_encoding("UTF-8"))
    raise ArgumentError, "frame is not a JSON object" unless message.is_a?(Hash)
    [message, ios]
  rescue JSON::ParserError => e
    raise ArgumentError, e.message
  end

  def send_frame(sock, message)
    body = JSON.generate(message)
    sock.write([body.bytesize].pack("N") + body)
  end

  def bytes(value)
    raise ArgumentError, "bytes must be base64 strings" unless value.is_a?(String)
    value.unpack1("m0")
  end

  # argv, env (arrays of binary strings), cwd, umask of a run message.
  def parse_run(m)
    raise ArgumentError, "argv and env must be arrays" unless m["argv"].is_a?(Array) && m["env"].is_a?(Array)
    raise ArgumentError, "umask must be an int" unless m["umask"].is_a?(Integer)
    [m["argv"].map { |a| bytes(a) }, m["env"].map { |e| bytes(e) }, bytes(m["cwd"]), m["umask"]]
  end

  def child(link, ios, fields, main)
    link.close
    Process.setsid
    argv, env, cwd, umask = fields
    run_link = ios[3]
    [STDIN, STDOUT, STDERR].each_with_index { |io, i| io.reopen(ios[i]) }
    ios[0, 3].each(&:close)
    STDERR.sync = true
    Dir.chdir(cwd)
    File.umask(umask)
    vars = {}
    env.each do |entry|
      name, value = entry.split("=", 2)
      vars[name] = value if value && !name.empty? && !vars.key?(name)
    end
    ENV.replace(vars)
    locale = Encoding.find("locale")
    ARGV.replace(argv.drop(1).map { |a| a.force_encoding(locale) })
    send_frame(run_link, { "t" => "started", "pid" => Process.pid })
    m, = recv_frame(run_link)
    exit!(0) unless m && m["t"] == "go"
    # From here on the child ends as ruby ends; the run link closes with it.
    code = main.call(ARGV)
    exit(code.is_a?(Integer) ? code : 0)
  rescue StandardError, ScriptError
    exit!(255) unless run_link && m # nothing ran yet: the caller runs directly
    raise
  end

  def serve(watch, env, main)
    fd = ENV.delete("WARM_COPROCESS_FD") or return false
    link = Socket.for_fd(Integer(fd))
    link.close_on_exec = true
    send_frame(link, { "t" => "hello", "v" => 1, "mode" => "fork", "pid" => Process.pid,
                       "watch" => watch.map { |p| File.expand_path(p) }, "env" => env })
    loop do
      m, ios = recv_frame(link)
      return true if m.nil?
      if m["t"] == "wait" && m["pid"].is_a?(Integer)
        status = begin
          _, st = Process.wait2(m["pid"])
          st.signaled? ? { "signal" => st.termsig } : { "code" => st.exitstatus }
        rescue Errno::ECHILD
          { "code" => 255 }
        end
        begin
          send_frame(link, { "t" => "exit", "pid" => m["pid"] }.merge(status))
        rescue SystemCallError
          return true # the daemon closed the link: shutdown
        end
      elsif m["t"] == "run" && ios.size == 4
        fields = parse_run(m)
        fork { child(link, ios, fields, main) }
      end
      ios.each(&:close)
    end
  end

  # The tool's entry: a coprocess when the daemon started it, else the block with ARGV, as always.
  def run(watch: [], env: [], &main)
    exit(0) if serve(watch, env, main)
    code = main.call(ARGV)
    exit(code.is_a?(Integer) ? code : 0)
  end
end
