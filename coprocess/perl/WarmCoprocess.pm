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
package WarmCoprocess;
use strict;
use warnings;
use B ();
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
    my $data = pack('N', length $body) . $body;
    while (length $data) {
        my $w = syswrite($sock, $data);
        if (!defined $w) { next if $!{EINTR}; die "write: $!\n" }
        substr($data, 0, $w) = '';
    }
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

sub child {
    my ($link, $fds, $fields, $main) = @_;
    my $started;
    eval {
        close $link;
        POSIX::setsid();
        my ($argv, $env, $cwd, $umask) = @$fields;
        my $run_link = fh($fds->[3], '+<');
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
        send_frame($run_link, { t => 'started', pid => $$ + 0 });
        my ($m) = recv_frame($run_link);
        POSIX::_exit(0) unless $m && $m->{t} eq 'go';
        $started = 1;
    };
    POSIX::_exit(255) unless $started; # nothing ran: the caller runs directly
    # From here on the child ends as perl ends; the run link closes with it.
    my $code = $main->(@ARGV);
    exit(defined $code && $code =~ /\A\d+\z/ ? $code : 0);
}

sub serve {
    my ($main, %opt) = @_;
    my $fd = delete $ENV{WARM_COPROCESS_FD};
    return 0 unless defined $fd;
    my $link = fh($fd, '+<');
    fcntl($link, POSIX::F_SETFD(), POSIX::FD_CLOEXEC());
    require Cwd;
    send_frame($link, { t => 'hello', v => 1, mode => 'fork', pid => $$ + 0,
        watch => [map { Cwd::abs_path($_) // $_ } @{$opt{watch} // []}], env => $opt{env} // [] });
    while (1) {
        my ($m, $fds) = recv_frame($link);
        return 1 unless $m;
        if (($m->{t} // '') eq 'wait' && defined $m->{pid}) {
            my $pid = $m->{pid} + 0;
            my %status = waitpid($pid, 0) == $pid
                ? (POSIX::WIFSIGNALED($?) ? (signal => POSIX::WTERMSIG($?) + 0) : (code => POSIX::WEXITSTATUS($?) + 0))
                : (code => 255);
            local $SIG{PIPE} = 'IGNORE'; # a closed link is shutdown, not a death by SIGPIPE
            return 1 unless eval { send_frame($link, { t => 'exit', pid => $pid, %status }); 1 };
        } elsif (($m->{t} // '') eq 'run' && @$fds == 4) {
            my $fields = [parse_run($m)];
            my $pid = fork();
            child($link, $fds, $fields, $main) if defined $pid && $pid == 0;
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
