module github.com/mistnet/mist/lua

go 1.26.0

require github.com/mistnet/mist v0.0.0

replace github.com/mistnet/mist => ../
