# Make a Perl tool a warm coprocess (protocol-spec/coprocess.md), fork mode.
#
#   use lib dirname(__FILE__); use WarmCoprocess;
#   WarmCoprocess::run(sub { main(@_) }, watch => [__FILE__]);   # the sub's return is the status
#
# Started without WARM_COPROCESS_FD, run calls the sub with @ARGV and exits
# with its return, as the tool always did. Started by the warm daemon, it says
# hello and forks a child per invocation: fresh state, the caller's fds, cwd,
# umask, %ENV and @ARGV. A child ends as perl ends (exit, die, END blocks,
# signals); the coprocess reports how. Core Perl plus Socket::MsgHdr (Debian:
# libsocket-msghdr-perl), since the core has no fd passing.
#
# quick_exit => 1: a child ends right after the END blocks (every handle
# flushed, the status as set) and skips perl's global destruction: objects
# still alive at exit are not DESTROYed, and pipes to commands left open are
# not waited for. A child's global destruction of what the start-up loaded
# (Moose's metaclasses, say) writes to nearly every page it shares with the
# coprocess: ~40 ms of a ~60 ms warm run of bench/coprocess/report.pl.
package WarmCoprocess;
use strict;
use warnings;
use B ();
# Loaded here, once: perl loads IO::File (with IO::Handle, IO::Seekable,
# Symbol, SelectSaver) the first time a method is called on a handle
# (STDERR->autoflush below, a tool's STDOUT->flush), which would otherwise
# cost every run ~40 ms of compiling in its child.
use IO::File ();
use JSON::PP ();
use MIME::Base64 ();
use POSIX ();
use Socket qw(SOL_SOCKET SCM_RIGHTS);
use Socket::MsgHdr ();

our $MAX_FRAME = 16 * 1024 * 1024;
my $MSG_CMSG_CLOEXEC = 0x40000000; # Linux; received fds are close-on-exec at once
my $json = JSON::PP->new->utf8->canonical;

# Exactly $n bytes (fewer at EOF); fds that come with them are pushed on @$fds.
sub read_exact {
    my ($sock, $n, $fds) = @_;
    my $data = '';
    while (length($data) < $n) {
        my $hdr = Socket::MsgHdr->new(buflen => $n - length($data), controllen => 256);
        my $got = Socket::MsgHdr::recvmsg($sock, $hdr, $MSG_CMSG_CLOEXEC);
        if (!defined $got) { next if $!{EINTR}; die "recvmsg: $!\n" }
        my @c = $hdr->cmsghdr;
        while (my ($level, $type, $payload) = splice(@c, 0, 3)) {
            push @$fds, unpack('i*', $payload) if $level == SOL_SOCKET && $type == SCM_RIGHTS;
        }
        last if $got == 0;
        $data .= $hdr->buf;
    }
    return $data;
}

# ($message, \@fds), or (undef, \@fds) at EOF. Dies on a broken frame.
sub recv_frame {
    my ($sock) = @_;
    my @fds;
    my $head = read_exact($sock, 4, \@fds);
    return (undef, \@fds) if $head eq '';
    die "the link ended inside a frame\n" if length($head) < 4;
    my $n = unpack('N', $head);
    die "frame length out of range\n" if $n < 1 || $n > $MAX_FRAME;
    my @stray;
    my $body = read_exact($sock, $n, \@stray);
    POSIX::close($_) for @stray;
    die "the link ended inside a frame\n" if length($body) < $n;
    my $m = $json->decode($body);
    die "frame is not a JSON object\n" unless ref $m eq 'HASH';
    return ($m, \@fds);
}

sub send_frame {
    my ($sock, $m) = @_;
    my $body = $json->encode($m);
    send_frame_bytes($sock, pack('N', length $body) . $body);
}

sub send_frame_bytes {
    my ($sock, $data) = @_;
    while (length $data) {
        my $w = syswrite($sock, $data);
        if (!defined $w) { next if $!{EINTR}; die "write: $!\n" }
        substr($data, 0, $w) = '';
    }
}

# A frame to the shim ("Frames to the shim"): kind 'started' (value: the pid), 'code' or 'signal'.
sub shim_frame {
    my ($kind, $value) = @_;
    my $body = $kind eq 'started'
        ? "\x83\xa1t\xa7started\xa3pid\xce" . pack('N', $value) . "\xa4pgid\xce" . pack('N', $value)
        : "\x82\xa1t\xa4exit" . ($kind eq 'code' ? "\xa4code" : "\xa6signal") . "\xcc" . pack('C', $value & 0xff);
    return pack('N', length $body) . $body;
}

# Writes a frame to the shim; false if the shim is gone (it gave up waiting, or has exited).
sub tell_shim {
    my ($client, $kind, $value) = @_;
    local $SIG{PIPE} = 'IGNORE'; # a shim that has gone is no death by SIGPIPE
    return eval { send_frame_bytes($client, shim_frame($kind, $value)); 1 } ? 1 : 0;
}

sub bytes {
    my ($v) = @_;
    die "bytes must be base64 strings\n"
        unless defined $v && !ref $v && $v =~ m{\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\z};
    return MIME::Base64::decode_base64($v);
}

# A JSON number without a fraction (a JSON string of digits is not one).
sub is_int {
    my ($v) = @_;
    return 0 if !defined $v || ref $v || (B::svref_2object(\$v)->FLAGS & B::SVf_POK());
    return $v =~ /\A-?\d+\z/;
}

# (\@argv, \@env, $cwd, $umask) of a run message, all bytes.
sub parse_run {
    my ($m) = @_;
    die "argv and env must be arrays\n" unless ref $m->{argv} eq 'ARRAY' && ref $m->{env} eq 'ARRAY';
    die "umask must be an int\n" unless is_int($m->{umask});
    return ([map { bytes($_) } @{$m->{argv}}], [map { bytes($_) } @{$m->{env}}], bytes($m->{cwd}), $m->{umask});
}

sub fh {
    my ($fd, $mode) = @_;
    open(my $fh, "$mode&=", $fd) or die "fd $fd: $!\n";
    return $fh;
}

# The child's ends of its run's links: held until it exits (a lexical would
# close them as the eval below ends, and the daemon would ask the coprocess
# to reap a child still running, which blocks the coprocess meanwhile).
our ($client, $run_link);

# An END block of ours, so that perl's list of them exists (B::end_av) for quick_exit to join.
END { }

# Runs last of the END blocks (END blocks compiled at run time run before
# it): flushes every handle and ends the child without global destruction.
sub quick_exit {
    # A failed exec flushes every PerlIO handle first (lexical ones too), as
    # perl does before any exec; perl has no other call that does.
    { no warnings; exec { '/nonexistent/warm-coprocess-flush' } 'flush' }
    POSIX::_exit($?);
}

sub child {
    my ($link, $kids, $fds, $fields, $main, $quick) = @_;
    my ($taken, $started);
    eval {
        close $link;
        close $_ for values %$kids; # other runs' callers are none of this run's business
        POSIX::setsid();
        my ($argv, $env, $cwd, $umask) = @$fields;
        $client = fh($fds->[3], '+<');
        $run_link = fh($fds->[4], '+<');
        open(STDIN, '<&', fh($fds->[0], '<')) or die "stdin: $!\n";
        open(STDOUT, '>&', fh($fds->[1], '>')) or die "stdout: $!\n";
        open(STDERR, '>&', fh($fds->[2], '>')) or die "stderr: $!\n";
        POSIX::close($_) for @$fds[0 .. 2];
        STDERR->autoflush(1);
        chdir($cwd) or die "chdir: $!\n";
        umask($umask);
        my %vars;
        for (@$env) {
            my ($name, $value) = split /=/, $_, 2;
            $vars{$name} = $value if defined $value && length $name && !exists $vars{$name};
        }
        %ENV = %vars;
        @ARGV = @$argv[1 .. $#$argv];
        send_frame($run_link, { t => 'taken', pid => $$ + 0 });
        $taken = 1;
        POSIX::_exit(0) unless tell_shim($client, 'started', $$); # the shim ran the command itself: nothing may run
        $started = 1;
    };
    POSIX::_exit($taken ? 0 : 255) unless $started; # nothing ran: before taken the caller runs directly
    # From here on the child ends as perl ends; its run link closes with it,
    # and the coprocess tells the shim how it ended.
    push @{B::end_av->object_2svref}, \&quick_exit if $quick;
    my $code = $main->(@ARGV);
    exit(defined $code && $code =~ /\A\d+\z/ ? $code : 0);
}

# Reaps child $pid; tells its shim how it ended when asked; the status as the daemon's exit keys.
sub reap {
    my ($kids, $pid, $tell) = @_;
    my $client = delete $kids->{$pid};
    my @status = waitpid($pid, 0) == $pid
        ? (POSIX::WIFSIGNALED($?) ? (signal => POSIX::WTERMSIG($?) + 0) : (code => POSIX::WEXITSTATUS($?) + 0))
        : (code => 255);
    $tell = 0 if $? == -1;
    if ($client) {
        tell_shim($client, @status) if $tell;
        close $client;
    }
    return @status;
}

# Every module file the start-up loaded (%INC): a change to any restarts the coprocess.
sub loaded_files {
    require Cwd;
    return grep { defined } map { Cwd::abs_path($_) } grep { defined && !ref } values %INC;
}

sub serve {
    my ($main, %opt) = @_;
    my $fd = delete $ENV{WARM_COPROCESS_FD};
    return 0 unless defined $fd;
    my $link = fh($fd, '+<');
    fcntl($link, POSIX::F_SETFD(), POSIX::FD_CLOEXEC());
    require Cwd;
    send_frame($link, { t => 'hello', v => 2, mode => 'fork', pid => $$ + 0,
        watch => [map { Cwd::abs_path($_) // $_ } @{$opt{watch} // []}, loaded_files()], env => $opt{env} // [] });
    my %kids; # pid => client link of each child not reaped yet
    while (1) {
        # A daemon that died with frames unread resets the link: its end all the same.
        my ($m, $fds) = eval { recv_frame($link) };
        if (!$m) {
            # The daemon is gone (or let this coprocess go): each child still
            # running finishes, and its shim hears how it ended.
            reap(\%kids, $_, 1) for keys %kids;
            return 1;
        }
        if (($m->{t} // '') eq 'wait' && defined $m->{pid}) {
            my $pid = $m->{pid} + 0;
            my %status = reap(\%kids, $pid, ref $m->{tell} && $m->{tell});
            local $SIG{PIPE} = 'IGNORE'; # a closed link is shutdown, not a death by SIGPIPE
            return 1 unless eval { send_frame($link, { t => 'exit', pid => $pid, %status }); 1 };
        } elsif (($m->{t} // '') eq 'run' && @$fds == 5) {
            my $fields = [parse_run($m)];
            my $pid = fork();
            child($link, \%kids, $fds, $fields, $main, $opt{quick_exit}) if defined $pid && $pid == 0;
            $kids{$pid} = fh(splice(@$fds, 3, 1), '+<') if $pid;
        }
        POSIX::close($_) for @$fds;
    }
}

# The tool's entry: a coprocess when the daemon started it, else the sub with @ARGV, as always.
sub run {
    my ($main, %opt) = @_;
    exit(0) if serve($main, %opt);
    my $code = $main->(@ARGV);
    exit(defined $code && $code =~ /\A\d+\z/ ? $code : 0);
}

1;
