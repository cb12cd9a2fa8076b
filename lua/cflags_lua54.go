//go:build lua54

package main

// Lua 5.4 ABI.

// #cgo CFLAGS: -I/usr/include/lua5.4
import "C"
