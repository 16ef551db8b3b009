#!/usr/bin/perl
# warm: coprocess
# An example coprocess CLI in Perl: prints its argv, cwd, umask, EX_*
# variables and stdin with --stdin; EX_EXIT / EX_SIGNAL pick how it ends,
# --die dies; with EX_GATE=file it first prints its pid and waits for that
# file. The warm patch is the `use lib`/`use` lines and the last line.
use strict;
use warnings;
use Cwd ();
use File::Basename qw(dirname);
use lib dirname(Cwd::abs_path(__FILE__));
use WarmCoprocess;

sub main {
    my @argv = @_;
    if ($ENV{EX_GATE}) {
        print "pid $$\n";
        STDOUT->flush;
        select(undef, undef, undef, 0.01) until -e $ENV{EX_GATE};
    }
    print 'argv ', join(' ', map { my $s = $_; $s =~ s/([^\x21-\x7e])/sprintf('\\x%02x', ord $1)/ge; "'$s'" } @argv), "\n";
    print 'cwd ', Cwd::getcwd(), "\n";
    printf "umask %03o\n", umask;
    print 'env ', join(' ', map { "$_=$ENV{$_}" } sort grep { /^EX_/ } keys %ENV), "\n";
    print 'tty ', join('', map { -t $_ ? 1 : 0 } (*STDIN, *STDOUT, *STDERR)), "\n";
    print STDERR "to stderr\n";
    if (grep { $_ eq '--stdin' } @argv) { local $/; my $in = <STDIN>; print "stdin $in\n" }
    die "asked to\n" if grep { $_ eq '--die' } @argv;
    STDOUT->flush;
    kill $ENV{EX_SIGNAL}, $$ if $ENV{EX_SIGNAL};
    return $ENV{EX_EXIT} // 0;
}

WarmCoprocess::run(\&main, watch => [__FILE__], env => ['EX_DECLARED']);
