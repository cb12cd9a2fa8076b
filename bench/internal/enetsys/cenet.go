//go:build cgo

package enetsys

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

// be_event is what one enet_host_service call reports, in plain C types so
// the Go side needs no ENet declarations.
typedef struct {
	int type;              // 0 none, 1 connect, 2 disconnect, 3 receive
	void *peer;
	const uint8_t *data;
	size_t len;
	void *packet;
	int reliable;
} be_event;

#if __has_include(<enet/enet.h>)
#include <enet/enet.h>

// The library is opened at run time, so the bench builds and runs (without
// ENet) on machines that lack it. The header fixes the struct layouts.
static struct {
	__typeof__(&enet_initialize) initialize;
	__typeof__(&enet_host_create) host_create;
	__typeof__(&enet_host_destroy) host_destroy;
	__typeof__(&enet_host_connect) host_connect;
	__typeof__(&enet_host_service) host_service;
	__typeof__(&enet_host_flush) host_flush;
	__typeof__(&enet_packet_create) packet_create;
	__typeof__(&enet_packet_destroy) packet_destroy;
	__typeof__(&enet_peer_send) peer_send;
	__typeof__(&enet_peer_disconnect_now) peer_disconnect_now;
} be;

#define BE_SYM(name) \
	if (!(be.name = (__typeof__(be.name))dlsym(lib, "enet_" #name))) return 0;

static int be_load(void) {
	void *lib = dlopen("libenet.so.7", RTLD_NOW);
	if (!lib) lib = dlopen("libenet.so", RTLD_NOW);
	if (!lib) return 0;
	BE_SYM(initialize)
	BE_SYM(host_create)
	BE_SYM(host_destroy)
	BE_SYM(host_connect)
	BE_SYM(host_service)
	BE_SYM(host_flush)
	BE_SYM(packet_create)
	BE_SYM(packet_destroy)
	BE_SYM(peer_send)
	BE_SYM(peer_disconnect_now)
	return be.initialize() == 0;
}

static int be_addr(ENetAddress *a, const char *ip, uint16_t port) {
	struct in_addr in;
	if (inet_pton(AF_INET, ip, &in) != 1) return 0;
	a->host = in.s_addr;
	a->port = port;
	return 1;
}

// Bandwidth 0 means unlimited: ENet's own rate limits are lifted.
static void *be_host_create(const char *ip, uint16_t port, size_t peers) {
	ENetAddress a;
	if (ip == NULL) return be.host_create(NULL, peers, 1, 0, 0);
	if (!be_addr(&a, ip, port)) return NULL;
	return be.host_create(&a, peers, 1, 0, 0);
}

static uint16_t be_host_port(void *h) { return ((ENetHost *)h)->address.port; }
static void be_host_destroy(void *h) { be.host_destroy((ENetHost *)h); }
static void be_flush(void *h) { be.host_flush((ENetHost *)h); }

static void *be_connect(void *h, const char *ip, uint16_t port) {
	ENetAddress a;
	if (!be_addr(&a, ip, port)) return NULL;
	return be.host_connect((ENetHost *)h, &a, 1, 0);
}

static int be_service(void *h, uint32_t timeout, be_event *out) {
	ENetEvent ev;
	memset(out, 0, sizeof *out);
	int r = be.host_service((ENetHost *)h, &ev, timeout);
	if (r <= 0) return r;
	out->peer = ev.peer;
	switch (ev.type) {
	case ENET_EVENT_TYPE_CONNECT: out->type = 1; break;
	case ENET_EVENT_TYPE_DISCONNECT: out->type = 2; break;
	case ENET_EVENT_TYPE_RECEIVE:
		out->type = 3;
		out->packet = ev.packet;
		out->data = ev.packet->data;
		out->len = ev.packet->dataLength;
		out->reliable = (ev.packet->flags & ENET_PACKET_FLAG_RELIABLE) != 0;
		break;
	default: break;
	}
	return 1;
}

static void be_packet_destroy(void *p) { be.packet_destroy((ENetPacket *)p); }

static int be_send(void *peer, const void *data, size_t len, int reliable) {
	ENetPacket *p = be.packet_create(data, len, reliable ? ENET_PACKET_FLAG_RELIABLE : 0);
	if (p == NULL) return -1;
	if (be.peer_send((ENetPeer *)peer, 0, p) < 0) {
		be.packet_destroy(p);
		return -1;
	}
	return 0;
}

// be_backlog reports the peer's queued (not yet sent) commands, counting
// no further than limit.
static int be_backlog(void *peer, int limit) {
	ENetList *l = &((ENetPeer *)peer)->outgoingCommands;
	int n = 0;
	for (ENetListNode *it = l->sentinel.next; it != &l->sentinel && n < limit; it = it->next) n++;
	return n;
}

static int be_peer_connected(void *peer) { return ((ENetPeer *)peer)->state == ENET_PEER_STATE_CONNECTED; }
static void be_disconnect(void *peer) { be.peer_disconnect_now((ENetPeer *)peer, 0); }

#else

static int be_load(void) { return 0; }
static void *be_host_create(const char *ip, uint16_t port, size_t peers) { return NULL; }
static uint16_t be_host_port(void *h) { return 0; }
static void be_host_destroy(void *h) {}
static void be_flush(void *h) {}
static void *be_connect(void *h, const char *ip, uint16_t port) { return NULL; }
static int be_service(void *h, uint32_t timeout, be_event *out) { return -1; }
static void be_packet_destroy(void *p) {}
static int be_send(void *peer, const void *data, size_t len, int reliable) { return -1; }
static int be_backlog(void *peer, int limit) { return 0; }
static int be_peer_connected(void *peer) { return 0; }
static void be_disconnect(void *peer) {}

#endif
*/
import "C"

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"unsafe"
)

// Event types reported by service.
const (
	evNone = iota
	evConnect
	evDisconnect
	evReceive
)

var (
	loadOnce sync.Once
	loaded   bool
)

// Available reports whether libenet could be loaded and initialised.
func Available() bool {
	loadOnce.Do(func() { loaded = C.be_load() == 1 })
	return loaded
}

var errUnavailable = errors.New("enetsys: libenet not available (install libenet-dev)")

type host struct{ h unsafe.Pointer }

type peer unsafe.Pointer

type event struct {
	kind     int
	peer     peer
	data     []byte // C memory, valid until packet is destroyed
	packet   unsafe.Pointer
	reliable bool
}

// newHost creates a host bound to addr, or an unbound client host when addr
// is the zero value.
func newHost(addr netip.AddrPort, peers int) (host, error) {
	if !Available() {
		return host{}, errUnavailable
	}
	var h unsafe.Pointer
	if addr.IsValid() {
		if !addr.Addr().Is4() {
			return host{}, fmt.Errorf("enetsys: %v: ENet speaks IPv4 only", addr)
		}
		ip := C.CString(addr.Addr().String())
		defer C.free(unsafe.Pointer(ip))
		h = C.be_host_create(ip, C.uint16_t(addr.Port()), C.size_t(peers))
	} else {
		h = C.be_host_create(nil, 0, C.size_t(peers))
	}
	if h == nil {
		return host{}, fmt.Errorf("enetsys: cannot create host on %v", addr)
	}
	return host{h}, nil
}

func (h host) port() uint16 { return uint16(C.be_host_port(h.h)) }
func (h host) destroy()     { C.be_host_destroy(h.h) }
func (h host) flush()       { C.be_flush(h.h) }

func (h host) connect(addr netip.AddrPort) (peer, error) {
	ip := C.CString(addr.Addr().String())
	defer C.free(unsafe.Pointer(ip))
	p := C.be_connect(h.h, ip, C.uint16_t(addr.Port()))
	if p == nil {
		return nil, fmt.Errorf("enetsys: connect to %v: no free peer", addr)
	}
	return peer(p), nil
}

// service runs ENet for up to timeoutMS and reports at most one event.
func (h host) service(timeoutMS uint32) (event, error) {
	var ev C.be_event
	r := C.be_service(h.h, C.uint32_t(timeoutMS), &ev)
	if r < 0 {
		return event{}, errors.New("enetsys: host service failed")
	}
	e := event{kind: int(ev._type), peer: peer(ev.peer), packet: ev.packet, reliable: ev.reliable != 0}
	if e.kind == evReceive {
		e.data = unsafe.Slice((*byte)(unsafe.Pointer(ev.data)), int(ev.len))
	}
	return e, nil
}

func (e event) release() {
	if e.packet != nil {
		C.be_packet_destroy(e.packet)
	}
}

func send(p peer, msg []byte, reliable bool) error {
	var data unsafe.Pointer
	if len(msg) > 0 {
		data = unsafe.Pointer(&msg[0])
	}
	rel := C.int(0)
	if reliable {
		rel = 1
	}
	if C.be_send(unsafe.Pointer(p), data, C.size_t(len(msg)), rel) != 0 {
		return errors.New("enetsys: send failed")
	}
	return nil
}

func backlog(p peer, limit int) int { return int(C.be_backlog(unsafe.Pointer(p), C.int(limit))) }
func connected(p peer) bool         { return C.be_peer_connected(unsafe.Pointer(p)) != 0 }
func disconnect(p peer)             { C.be_disconnect(unsafe.Pointer(p)) }
