module github.com/mistnet/mist

go 1.26.0

require (
	golang.org/x/crypto v0.32.0
	golang.org/x/sys v0.49.0
	google.golang.org/protobuf v1.36.12
)

tool google.golang.org/protobuf/cmd/protoc-gen-go
