#!/usr/bin/env ruby
# warm: coprocess
# A slow-start Ruby CLI for the benchmark: it requires a set of Ruby's
# standard and Debian-packaged libraries (~20, as real tools do), then
# renders a small report of its arguments as JSON, YAML, CSV and ERB, with a
# digest. The warm patch: the require_relative and the last line.
require_relative "../../coprocess/ruby/warm_coprocess"
%w[json yaml optparse set erb uri net/http openssl bigdecimal csv digest securerandom time logger
   fileutils tempfile rexml/document ripper pp open3 shellwords webrick xmlrpc/client net/telnet].each { |lib| require lib }

def main(argv)
  opts = { format: "all" }
  OptionParser.new { |o| o.on("--format F") { |f| opts[:format] = f } }.parse!(argv)
  rows = argv.each_with_index.map { |a, i| { "i" => i, "word" => a, "sha" => Digest::SHA256.hexdigest(a)[0, 12], "n" => BigDecimal(i.to_s) / 3 } }
  rows.each { |r| r["n"] = r["n"].round(4).to_s("F") }
  puts JSON.generate(rows) if %w[all json].include?(opts[:format])
  puts rows.to_yaml if %w[all yaml].include?(opts[:format])
  puts CSV.generate { |csv| rows.each { |r| csv << r.values } } if %w[all csv].include?(opts[:format])
  puts ERB.new("<%= rows.size %> rows, <%= Set.new(argv).size %> distinct, time <%= Time.utc(2020, 1, 2).iso8601 %>").result(binding)
  puts URI.join("https://example.org/a/", "b?c=#{argv.size}").to_s
  0
end

WarmCoprocess.run(watch: [__FILE__]) { |argv| main(argv) }
