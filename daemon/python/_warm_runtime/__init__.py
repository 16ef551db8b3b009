# warm's Python runtime: a template process that imports a tool's modules
# once and forks one child per invocation (see protocol-spec/README.md,
# "Python runtime"). Standard library only; runs on CPython >= 3.9.
