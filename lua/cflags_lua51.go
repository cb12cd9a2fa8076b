//go:build !lua54

package main

// Lua 5.1 ABI, also what LuaJIT and LÖVE 11 load.

// #cgo CFLAGS: -I/usr/include/lua5.1
import "C"
