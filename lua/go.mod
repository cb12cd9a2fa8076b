module github.com/mistnet/mist/lua

go 1.26.0

require github.com/mistnet/mist v0.0.0

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/mistnet/mist => ../
