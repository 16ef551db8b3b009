module warm/coprocess

go 1.19
