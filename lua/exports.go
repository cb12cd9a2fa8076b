// Command luasteam is built with -buildmode=c-shared into luasteam.so, a Lua
// module that programs written for luasteam's networkingSockets load with
// require 'luasteam'. The Lua side lives in luasteam.c; the functions here
// take and return plain C values and status codes, and never call the Lua
// API, so Lua errors (longjmp) never cross Go frames.
package main

/*
#cgo LDFLAGS: -Wl,--unresolved-symbols=ignore-all
#include <stdlib.h>
#include <string.h>
#include "luasteam.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/lua/internal/bridge"
)

func main() {}

// module is the process-wide state: like Steam, one interface instance per
// process, shared by every Lua state that loads the module.
var module = bridge.New(bridge.NewMist)

var (
	lastErrMu sync.Mutex
	lastErr   string
)

// status converts an error into the code the C side raises.
func status(err error) C.int {
	switch {
	case err == nil:
		return C.MIST_OK
	case errors.Is(err, bridge.ErrNotInitialized):
		return C.MIST_ERR_NOT_INIT
	}
	lastErrMu.Lock()
	lastErr = err.Error()
	lastErrMu.Unlock()
	return C.MIST_ERR_OTHER
}

// copyCString writes s into buf (size n) NUL-terminated, truncated if needed.
func copyCString(buf *C.char, n C.size_t, s string) {
	if n == 0 {
		return
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	k := copy(dst[:len(dst)-1], s)
	dst[k] = 0
}

func goBytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func goOptions(ids *C.int32_t, vals *C.int64_t, n C.int) []bridge.Option {
	if n <= 0 {
		return nil
	}
	idSlice := unsafe.Slice((*int32)(unsafe.Pointer(ids)), int(n))
	valSlice := unsafe.Slice((*int64)(unsafe.Pointer(vals)), int(n))
	opts := make([]bridge.Option, n)
	for i := range opts {
		opts[i] = bridge.Option{ID: idSlice[i], Value: valSlice[i]}
	}
	return opts
}

//export mistLastError
func mistLastError(buf *C.char, n C.size_t) {
	lastErrMu.Lock()
	defer lastErrMu.Unlock()
	copyCString(buf, n, lastErr)
}

// mistInit creates the interface instance. The identity and options given
// to Steam.init win over those from the environment; MIST_IDENTITY wins
// over LUASTEAM_STEAMID. The P2P settings come from the MIST_* variables
// only (see bridge.SettingsFromEnv); a bad value fails the call.
//
//export mistInit
func mistInit(steamID C.uint64_t, ids *C.int32_t, vals *C.int64_t, nopts C.int) C.int {
	envID, p2p, err := bridge.SettingsFromEnv(os.Getenv)
	if err != nil {
		return status(err)
	}
	id := uint64(steamID)
	if id == 0 {
		id = envID
	}
	if s := os.Getenv(bridge.EnvSteamID); id == 0 && s != "" {
		id = bridge.ParseUint64(s)
	}
	opts, err := bridge.ParseOptionList(os.Getenv(bridge.EnvOptions))
	if err != nil {
		return status(fmt.Errorf("%s: %w", bridge.EnvOptions, err))
	}
	opts = append(opts, goOptions(ids, vals, nopts)...)
	return status(module.InitSettings(bridge.Settings{SteamID: id, Options: opts, P2P: p2p}))
}

//export mistShutdown
func mistShutdown() { module.Shutdown() }

//export mistSteamID
func mistSteamID(out *C.uint64_t) C.int {
	id, err := module.SteamID()
	*out = C.uint64_t(id)
	return status(err)
}

//export mistOptionID
func mistOptionID(name *C.char, n C.size_t, out *C.int32_t) C.int {
	id, ok := bridge.OptionID(string(goBytes(name, n)))
	*out = C.int32_t(id)
	if ok {
		return 1
	}
	return 0
}

//export mistCreateListenSocketIP
func mistCreateListenSocketIP(addr *C.char, n C.size_t, ids *C.int32_t, vals *C.int64_t, nopts C.int, out *C.uint64_t) C.int {
	h, err := module.CreateListenSocketIP(string(goBytes(addr, n)), goOptions(ids, vals, nopts))
	*out = C.uint64_t(h)
	return status(err)
}

//export mistConnectByIPAddress
func mistConnectByIPAddress(addr *C.char, n C.size_t, ids *C.int32_t, vals *C.int64_t, nopts C.int, out *C.uint64_t) C.int {
	h, err := module.ConnectByIPAddress(string(goBytes(addr, n)), goOptions(ids, vals, nopts))
	*out = C.uint64_t(h)
	return status(err)
}

// mistCreateListenSocketP2P and mistConnectP2P leave 0 in *out and the
// reason in reason on failure; the status is only for Steam.init missing.
//
//export mistCreateListenSocketP2P
func mistCreateListenSocketP2P(vport C.int64_t, ids *C.int32_t, vals *C.int64_t, nopts C.int, out *C.uint64_t, reason *C.char, n C.size_t) C.int {
	h, why, err := module.CreateListenSocketP2P(int64(vport), goOptions(ids, vals, nopts))
	*out = C.uint64_t(h)
	copyCString(reason, n, why)
	return status(err)
}

//export mistConnectP2P
func mistConnectP2P(steamID C.uint64_t, vport C.int64_t, ids *C.int32_t, vals *C.int64_t, nopts C.int, out *C.uint64_t, reason *C.char, n C.size_t) C.int {
	h, why, err := module.ConnectP2P(uint64(steamID), int64(vport), goOptions(ids, vals, nopts))
	*out = C.uint64_t(h)
	copyCString(reason, n, why)
	return status(err)
}

//export mistAcceptConnection
func mistAcceptConnection(conn C.uint64_t, out *C.int) C.int {
	r, err := module.AcceptConnection(bridge.Handle(conn))
	*out = C.int(r)
	return status(err)
}

//export mistCloseConnection
func mistCloseConnection(conn C.uint64_t, linger C.int, out *C.int) C.int {
	ok, err := module.CloseConnection(bridge.Handle(conn), linger != 0)
	*out = cBool(ok)
	return status(err)
}

//export mistCloseListenSocket
func mistCloseListenSocket(sock C.uint64_t, out *C.int) C.int {
	ok, err := module.CloseListenSocket(bridge.Handle(sock))
	*out = cBool(ok)
	return status(err)
}

//export mistSendMessageToConnection
func mistSendMessageToConnection(conn C.uint64_t, data *C.char, n C.size_t, flags C.int, out *C.int) C.int {
	r, err := module.SendMessageToConnection(bridge.Handle(conn), goBytes(data, n), int32(flags))
	*out = C.int(r)
	return status(err)
}

//export mistSendMessages
func mistSendMessages(n C.int, conns *C.uint64_t, datas **C.char, lens *C.size_t, flags *C.int, out *C.int) C.int {
	count := int(n)
	msgs := make([]bridge.OutMessage, count)
	ok := make([]bool, count)
	if count > 0 {
		cs := unsafe.Slice((*uint64)(unsafe.Pointer(conns)), count)
		ds := unsafe.Slice(datas, count)
		ls := unsafe.Slice(lens, count)
		fs := unsafe.Slice(flags, count)
		for i := range msgs {
			msgs[i] = bridge.OutMessage{Conn: bridge.Handle(cs[i]), Data: goBytes(ds[i], ls[i]), Flags: int32(fs[i])}
		}
	}
	err := module.SendMessages(msgs, ok)
	if count > 0 {
		os := unsafe.Slice(out, count)
		for i := range os {
			os[i] = cBool(ok[i])
		}
	}
	return status(err)
}

//export mistFlushMessagesOnConnection
func mistFlushMessagesOnConnection(conn C.uint64_t, out *C.int) C.int {
	r, err := module.FlushMessagesOnConnection(bridge.Handle(conn))
	*out = C.int(r)
	return status(err)
}

// mistReceive takes up to 32 messages from a connection (group == 0) or a
// poll group. On success *count is -1 for an invalid handle, else the number
// of messages, and *batch (when count > 0) is one malloc'd block the caller
// frees: count mist_msg entries followed by their payloads.
//
//export mistReceive
func mistReceive(handle C.uint64_t, group C.int, count *C.int, batch **C.mist_msg) C.int {
	*count, *batch = -1, nil
	ok, err := module.Receive(bridge.Handle(handle), group != 0, func(msgs []bridge.InMessage) {
		*count = C.int(len(msgs))
		if len(msgs) == 0 {
			return
		}
		header := len(msgs) * int(unsafe.Sizeof(C.mist_msg{}))
		total := header
		for _, m := range msgs {
			total += len(m.Data)
		}
		block := C.malloc(C.size_t(total)) // cgo's malloc never returns nil
		entries := unsafe.Slice((*C.mist_msg)(block), len(msgs))
		payload := unsafe.Slice((*byte)(block), total)
		off := header
		for i, m := range msgs {
			copy(payload[off:], m.Data)
			entries[i] = C.mist_msg{
				data: (*C.char)(unsafe.Add(block, off)),
				len:  C.size_t(len(m.Data)),
				conn: C.uint64_t(m.Conn),
			}
			off += len(m.Data)
		}
		*batch = (*C.mist_msg)(block)
	})
	if err == nil && !ok {
		*count = -1
	}
	return status(err)
}

//export mistInitAuthentication
func mistInitAuthentication(out *C.int) C.int {
	a, err := module.InitAuthentication()
	*out = C.int(a)
	return status(err)
}

//export mistAuthenticationStatus
func mistAuthenticationStatus(out *C.int, msg *C.char, n C.size_t) C.int {
	a, text, err := module.AuthenticationStatus()
	*out = C.int(a)
	copyCString(msg, n, text)
	return status(err)
}

//export mistConnectionInfo
func mistConnectionInfo(conn C.uint64_t, ok *C.int, desc *C.char, n C.size_t) C.int {
	d, found, err := module.ConnectionDescription(bridge.Handle(conn))
	*ok = cBool(found)
	copyCString(desc, n, d)
	return status(err)
}

//export mistCreatePollGroup
func mistCreatePollGroup(out *C.uint64_t) C.int {
	g, err := module.CreatePollGroup()
	*out = C.uint64_t(g)
	return status(err)
}

//export mistDestroyPollGroup
func mistDestroyPollGroup(group C.uint64_t, out *C.int) C.int {
	ok, err := module.DestroyPollGroup(bridge.Handle(group))
	*out = cBool(ok)
	return status(err)
}

//export mistSetConnectionPollGroup
func mistSetConnectionPollGroup(conn, group C.uint64_t, out *C.int) C.int {
	ok, err := module.SetConnectionPollGroup(bridge.Handle(conn), bridge.Handle(group))
	*out = cBool(ok)
	return status(err)
}

//export mistRunCallbacks
func mistRunCallbacks() { module.RunCallbacks() }

// mistDropEvent takes the event mistPeekEvent numbered seq off the queue;
// 0 if it is no longer the oldest (delivered meanwhile).
//
//export mistDropEvent
func mistDropEvent(seq C.uint64_t) C.int {
	return cBool(module.DropEvent(uint64(seq)))
}

// mistPeekEvent fills ev with the oldest queued callback, and seq with its
// number for mistDropEvent, and returns 1; it returns 0 when the queue is
// empty.
//
//export mistPeekEvent
func mistPeekEvent(ev *C.mist_event, seq *C.uint64_t) C.int {
	e, n, ok := module.PeekEvent()
	if !ok {
		return 0
	}
	*seq = C.uint64_t(n)
	*ev = C.mist_event{}
	switch e.Kind {
	case bridge.EventConnChanged:
		ev.kind = C.MIST_EVENT_CONN
		ev.conn = C.uint64_t(e.Conn.Conn)
		ev.state = C.int(e.Conn.State)
		ev.old_state = C.int(e.Conn.OldState)
		ev.end_reason = C.int(e.Conn.EndReason)
		copyCString(&ev.text[0], C.size_t(len(ev.text)), e.Conn.EndDebug)
	case bridge.EventAuthStatus:
		ev.kind = C.MIST_EVENT_AUTH
		ev.status = C.int(e.Status)
		copyCString(&ev.text[0], C.size_t(len(ev.text)), e.Msg)
	}
	return 1
}

//export mistResultName
func mistResultName(r C.int, buf *C.char, n C.size_t) {
	copyCString(buf, n, mist.Result(r).String())
}

//export mistParseUint64
func mistParseUint64(s *C.char, n C.size_t) C.uint64_t {
	return C.uint64_t(bridge.ParseUint64(string(goBytes(s, n))))
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
