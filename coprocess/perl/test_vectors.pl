# Checks WarmCoprocess.pm's frame reader and run parser against
# protocol-spec/coprocess-vectors.txt through a real socketpair, and its
# writer of frames to the shim. Prints
# "ok <name>" per vector; exits 1 on any failure.
use strict;
use warnings;
use File::Basename qw(dirname);
use lib dirname(__FILE__);
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);
use WarmCoprocess;

sub render {
    my ($b) = @_;
    return ' b"' . join('', map { my $c = ord; $c == 0x22 || $c == 0x5c ? "\\" . chr($c) : $c >= 0x20 && $c <= 0x7e ? chr($c) : sprintf('\\x%02x', $c) } split //, $b) . '"';
}

sub decode {
    my ($frame) = @_;
    socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
    my $pid = fork();
    if ($pid == 0) { close $a; syswrite($b, $frame); POSIX::_exit(0) }
    close $b;
    my @r = eval { my ($m) = WarmCoprocess::recv_frame($a); WarmCoprocess::parse_run($m) };
    waitpid($pid, 0);
    close $a;
    return @r;
}

my ($failed, $block) = (0, undef);
open(my $in, '<', $ARGV[0]) or die "$ARGV[0]: $!";
while (my $line = <$in>) {
    chomp $line;
    next if $line eq '' || $line =~ /^#/;
    my ($word, $rest) = split / /, $line, 2;
    if ($word eq 'run' || $word eq 'reject' || $word eq 'shim') { $block = { kind => $word, name => $rest, hex => '', want => [] } }
    elsif ($word eq 'frame') { $block->{hex} .= $rest }
    elsif ($word eq 'end' && $block->{kind} eq 'shim') {
        my @says = split / /, $block->{want}[0];
        my ($kind, $value) = $says[0] eq 'started' ? @says : @says[1, 2];
        my $ok = WarmCoprocess::shim_frame($kind, $value) eq pack('H*', $block->{hex});
        print(($ok ? 'ok ' : 'FAIL ') . "$block->{name}\n");
        $failed ||= !$ok;
    }
    elsif ($word eq 'end') {
        my ($argv, $env, $cwd, $umask) = decode(pack('H*', $block->{hex}));
        my $ok;
        if ($argv) {
            my @got = ('argv' . join('', map { render($_) } @$argv), 'env' . join('', map { render($_) } @$env), 'cwd' . render($cwd), "umask $umask");
            $ok = $block->{kind} eq 'run' && join("\n", @got) eq join("\n", @{$block->{want}});
        } else {
            $ok = $block->{kind} eq 'reject';
        }
        print(($ok ? 'ok ' : 'FAIL ') . "$block->{name}\n");
        $failed ||= !$ok;
    } else { push @{$block->{want}}, $line }
}
exit($failed ? 1 : 0);
