#!/usr/bin/perl
# warm: coprocess
# A slow-start Perl CLI for the benchmark: it loads several CPAN modules
# from Debian (Moose, DateTime, YAML::XS, JSON) and some of the core, then
# renders a small report of its arguments. The warm patch: the `use lib`
# and `use WarmCoprocess` lines and the last line (quick_exit: it leaves
# nothing for perl's global destruction to do).
use strict;
use warnings;
use FindBin ();
use lib "$FindBin::RealBin/../../coprocess/perl";
use WarmCoprocess;
use DateTime;
use Digest::SHA qw(sha256_hex);
use Getopt::Long qw(GetOptionsFromArray);
use JSON ();
use List::Util qw(sum0 max);
use YAML::XS ();

package Row {
    use Moose;
    has word => (is => 'ro', isa => 'Str', required => 1);
    has index => (is => 'ro', isa => 'Int', required => 1);
    sub sha { substr(Digest::SHA::sha256_hex($_[0]->word), 0, 12) }
    sub as_hash { my $s = shift; +{ i => $s->index, word => $s->word, sha => $s->sha } }
    __PACKAGE__->meta->make_immutable;
}

sub main {
    my @argv = @_;
    my $format = 'all';
    GetOptionsFromArray(\@argv, 'format=s' => \$format);
    my @rows = map { Row->new(word => $argv[$_], index => $_)->as_hash } 0 .. $#argv;
    my $json = JSON->new->canonical;
    print $json->encode(\@rows), "\n" if $format eq 'all' || $format eq 'json';
    print YAML::XS::Dump(\@rows) if $format eq 'all' || $format eq 'yaml';
    my $day = DateTime->new(year => 2020, month => 1, day => 2, time_zone => 'UTC')->add(days => scalar @rows);
    printf "%d rows, longest %d, date %s\n", scalar @rows, max(0, map { length $_->{word} } @rows), $day->ymd;
    return 0;
}

WarmCoprocess::run(\&main, watch => [__FILE__], quick_exit => 1);
