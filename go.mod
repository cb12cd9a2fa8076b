module github.com/mistnet/mist

go 1.25

require (
	golang.org/x/net v0.62.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
