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

  # A frame to the shim ("Frames to the shim"): kind :started (value: the pid), :code or :signal.
  def shim_frame(kind, value)
    body = if kind == :started
             pid = [value].pack("N")
             "\x83\xa1t\xa7started\xa3pid\xce".b + pid + "\xa4pgid\xce".b + pid
           else
             "\x82\xa1t\xa4exit".b + (kind == :code ? "\xa4code" : "\xa6signal").b + "\xcc".b + [value & 0xff].pack("C")
           end
    [body.bytesize].pack("N") + body
  end

  # Writes a frame to the shim; false if the shim is gone (it gave up waiting, or has exited).
  def tell_shim(client, kind, value)
    client.write(shim_frame(kind, value))
    true
  rescue SystemCallError, IOError
    false
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

  def child(link, kids, ios, fields, main)
    link.close
    kids.each_value(&:close) # other runs' callers are none of this run's business
    Process.setsid
    argv, env, cwd, umask = fields
    client, run_link = ios[3], ios[4]
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
    send_frame(run_link, { "t" => "taken", "pid" => Process.pid })
    taken = true
    exit!(0) unless tell_shim(client, :started, Process.pid) # the shim ran the command itself: nothing may run
    # From here on the child ends as ruby ends; its run link closes with it,
    # and the coprocess tells the shim how it ended.
    started = true
    code = main.call(ARGV)
    exit(code.is_a?(Integer) ? code : 0)
  rescue StandardError, ScriptError
    exit!(taken ? 0 : 255) unless started # nothing ran: before taken the caller runs directly
    raise
  end

  # Reaps child pid; tells its shim how it ended when asked; the status as the daemon's exit keys.
  def reap(kids, pid, tell)
    client = kids.delete(pid)
    status = begin
      _, st = Process.wait2(pid)
      st.signaled? ? { "signal" => st.termsig } : { "code" => st.exitstatus }
    rescue Errno::ECHILD
      tell = false
      { "code" => 255 }
    end
    if client
      tell_shim(client, status.key?("signal") ? :signal : :code, status.values.first) if tell
      client.close
    end
    status
  end

  # Every file the start-up required: a change to any restarts the coprocess.
  def loaded_files
    $LOADED_FEATURES.select { |f| f.start_with?("/") } # not the interpreter's built-in features (enumerator.so, thread.rb)
  end

  def serve(watch, env, main)
    fd = ENV.delete("WARM_COPROCESS_FD") or return false
    link = Socket.for_fd(Integer(fd))
    link.close_on_exec = true
    send_frame(link, { "t" => "hello", "v" => 2, "mode" => "fork", "pid" => Process.pid,
                       "watch" => (watch.map { |p| File.expand_path(p) } + loaded_files).uniq, "env" => env })
    kids = {} # pid => client link of each child not reaped yet
    loop do
      m, ios = begin
        recv_frame(link)
      rescue SystemCallError
        [nil, []] # a daemon that died with frames unread resets the link: its end all the same
      end
      if m.nil?
        # The daemon is gone (or let this coprocess go): each child still
        # running finishes, and its shim hears how it ended.
        kids.keys.each { |pid| reap(kids, pid, true) }
        return true
      end
      if m["t"] == "wait" && m["pid"].is_a?(Integer)
        status = reap(kids, m["pid"], m["tell"] == true)
        begin
          send_frame(link, { "t" => "exit", "pid" => m["pid"] }.merge(status))
        rescue SystemCallError
          return true # the daemon closed the link: shutdown
        end
      elsif m["t"] == "run" && ios.size == 5
        fields = parse_run(m)
        pid = fork { child(link, kids, ios, fields, main) }
        kids[pid] = ios.delete_at(3)
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
