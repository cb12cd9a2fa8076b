/*
 * The Lua side of the luasteam-compatible module: argument checking, Lua
 * values, Lua errors and callback dispatch. Everything that needs the
 * network goes to the Go exports in exports.go, which return status codes;
 * Lua errors are raised here only, after the Go call has returned, so a
 * longjmp never crosses a Go frame.
 *
 * The same source builds against the Lua 5.1 (LuaJIT, LÖVE) and 5.4 headers.
 * The module does not link liblua: the interpreter that loads it provides the
 * Lua API symbols.
 */
#include <lua.h>
#include <lauxlib.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luasteam.h"
#include "_cgo_export.h"

#define UINT64_MT "luasteam.uint64"
#define LISTEN_MT "luasteam.listenSocket"
#define BATCH_MT "luasteam.receivedBatch"
/* Registry key of the networkingSockets table, where callbacks are looked up. */
#define SOCKETS_KEY "luasteam.networkingSockets"

/* At most this many options are recognised, so a fixed array holds them. */
#define MAX_OPTIONS 32
/* sendMessages refuses batches larger than this (a typo, not a batch). */
#define MAX_BATCH (1 << 20)

/* ---- utilities working on both Lua 5.1 and 5.4 ---- */

static void set_funcs(lua_State *L, const luaL_Reg *fns) {
	for (; fns->name != NULL; fns++) {
		lua_pushcfunction(L, fns->func);
		lua_setfield(L, -2, fns->name);
	}
}

/* Returns the userdata at idx if its metatable is the registry's mt. */
static void *test_udata(lua_State *L, int idx, const char *mt) {
	void *p;
	int same;
	/* Only a full userdata: debug.setmetatable can give every light
	 * userdata (an arbitrary pointer) one of the module's metatables. */
	if (lua_type(L, idx) != LUA_TUSERDATA) {
		return NULL;
	}
	p = lua_touserdata(L, idx);
	if (p == NULL || !lua_getmetatable(L, idx)) {
		return NULL;
	}
	luaL_getmetatable(L, mt);
	same = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return same ? p : NULL;
}

/* Reads an integer from idx; *ok is 0 unless the value is a number (or
 * numeric string) with an exact integer value that lua_Integer holds, as
 * Lua 5.4 rules. Lua 5.1's lua_tointeger converts any double with a C cast,
 * which is undefined for NaN and out-of-range values, so the 5.1 build
 * checks the double first and also refuses fractions, like 5.4. */
static lua_Integer to_integer(lua_State *L, int idx, int *ok) {
#if LUA_VERSION_NUM >= 503
	return lua_tointegerx(L, idx, ok);
#else
	/* -(lua_Number)PTRDIFF_MIN is 2^63 (2^31 on 32-bit), exact. */
	const lua_Number lo = (lua_Number)PTRDIFF_MIN, hi = -(lua_Number)PTRDIFF_MIN;
	lua_Number d;
	*ok = 0;
	if (!lua_isnumber(L, idx)) {
		return 0;
	}
	d = lua_tonumber(L, idx);
	if (!(d >= lo && d < hi) || (lua_Number)(lua_Integer)d != d) {
		return 0;
	}
	*ok = 1;
	return (lua_Integer)d;
#endif
}

/* luaL_checkinteger with to_integer's rules on every Lua version. */
static lua_Integer check_integer(lua_State *L, int idx) {
	int ok;
	lua_Integer v = to_integer(L, idx, &ok);
	if (!ok) {
		if (lua_isnumber(L, idx)) {
			luaL_argerror(L, idx, "number has no integer representation");
		}
		luaL_checknumber(L, idx); /* raises the type error */
	}
	return v;
}

/* Raises the Lua error for a non-zero status from the Go side. */
static void check(lua_State *L, int status) {
	char msg[512];
	switch (status) {
	case MIST_OK:
		return;
	case MIST_ERR_NOT_INIT:
		luaL_error(L, "luasteam: Steam.init() must be called first");
		return;
	default:
		mistLastError(msg, sizeof msg);
		luaL_error(L, "luasteam: %s", msg);
	}
}

/* Connection and poll group handles are integers below 2^53 (the session
 * above mist's 32-bit handle, see bridge.Handle); negative values become 0,
 * which every call treats as invalid. */
static uint64_t check_handle(lua_State *L, int idx) {
	lua_Integer v = check_integer(L, idx);
	return v < 0 ? 0 : (uint64_t)v;
}

static void push_handle(lua_State *L, uint64_t h) {
#if LUA_VERSION_NUM >= 503
	lua_pushinteger(L, (lua_Integer)h);
#else
	lua_pushnumber(L, (lua_Number)h); /* exact: below 2^53 */
#endif
}

static void push_result(lua_State *L, int result) {
	char name[64];
	mistResultName(result, name, sizeof name);
	lua_pushstring(L, name);
}

static const char *state_name(int state) {
	static const char *const names[] = {
		"None", "Connecting", "FindingRoute", "Connected", "ClosedByPeer", "ProblemDetectedLocally",
	};
	/* Internal states (negative) are reported as None, as the C++ API does. */
	return state >= 0 && state < 6 ? names[state] : "None";
}

/* ---- uint64 userdata ---- */

static void push_uint64(lua_State *L, uint64_t v) {
	uint64_t *p = (uint64_t *)lua_newuserdata(L, sizeof *p);
	*p = v;
	luaL_getmetatable(L, UINT64_MT);
	lua_setmetatable(L, -2);
}

static uint64_t check_uint64(lua_State *L, int idx) {
	uint64_t *p = (uint64_t *)test_udata(L, idx, UINT64_MT);
	if (p == NULL) {
		luaL_argerror(L, idx, "uint64 expected");
	}
	return *p;
}

static int uint64_eq(lua_State *L) {
	uint64_t *a = (uint64_t *)test_udata(L, 1, UINT64_MT);
	uint64_t *b = (uint64_t *)test_udata(L, 2, UINT64_MT);
	lua_pushboolean(L, a != NULL && b != NULL && *a == *b);
	return 1;
}

static int uint64_tostring(lua_State *L) {
	char buf[32];
	snprintf(buf, sizeof buf, "%llu", (unsigned long long)check_uint64(L, 1));
	lua_pushstring(L, buf);
	return 1;
}

/* ---- listen sockets: full userdata holding the handle ---- */

typedef struct {
	uint64_t handle; /* 0 once closed */
} listen_socket;

static void push_listen_socket(lua_State *L, uint64_t handle) {
	listen_socket *s = (listen_socket *)lua_newuserdata(L, sizeof *s);
	s->handle = handle;
	luaL_getmetatable(L, LISTEN_MT);
	lua_setmetatable(L, -2);
}

static int listen_socket_tostring(lua_State *L) {
	/* Not luaL_checkudata: on Lua 5.4 it accepts a light userdata. */
	listen_socket *s = (listen_socket *)test_udata(L, 1, LISTEN_MT);
	char buf[64];
	if (s == NULL) {
		return luaL_argerror(L, 1, "listen socket expected");
	}
	if (s->handle == 0) {
		snprintf(buf, sizeof buf, "listen socket (closed)");
	} else {
		snprintf(buf, sizeof buf, "listen socket %llu", (unsigned long long)s->handle);
	}
	lua_pushstring(L, buf);
	return 1;
}

static int listen_socket_eq(lua_State *L) {
	listen_socket *a = (listen_socket *)test_udata(L, 1, LISTEN_MT);
	listen_socket *b = (listen_socket *)test_udata(L, 2, LISTEN_MT);
	lua_pushboolean(L, a != NULL && b != NULL && a->handle != 0 && a->handle == b->handle);
	return 1;
}

/* ---- options tables ---- */

typedef struct {
	int n;
	int32_t ids[MAX_OPTIONS];
	int64_t values[MAX_OPTIONS];
} options;

/* Writes the string form of the value at idx (which it may convert in
 * place) to stderr, or its type name; at most PRINT_MAX bytes, so a huge key
 * cannot flood the log. */
#define PRINT_MAX 64
static void print_value(lua_State *L, int idx) {
	size_t n;
	const char *s = lua_tolstring(L, idx, &n);
	if (s == NULL) {
		fputs(luaL_typename(L, idx), stderr);
		return;
	}
	fprintf(stderr, "%.*s%s", (int)(n > PRINT_MAX ? PRINT_MAX : n), s, n > PRINT_MAX ? "..." : "");
}

/* Reads the options table at idx (any other value: no options). Unknown
 * keys are reported on stderr and skipped. A value that is not an integer
 * makes it return 0 with the reason in why (of size MAX_REASON); else 1. */
#define MAX_REASON 256
static int read_options_at(lua_State *L, int idx, options *o, char *why) {
	o->n = 0;
	if (idx < 1 || !lua_istable(L, idx)) {
		return 1;
	}
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		int32_t id;
		int known = 0;
		const char *key = NULL;
		size_t keylen = 0;
		if (lua_type(L, -2) == LUA_TSTRING) {
			key = lua_tolstring(L, -2, &keylen);
			known = mistOptionID((char *)key, keylen, &id);
		}
		if (!known) {
			/* Print copies so lua_next still sees the original key. */
			lua_pushvalue(L, -2);
			lua_pushvalue(L, -2);
			fprintf(stderr, "Unsupported/Unknown config option [ ");
			print_value(L, -2);
			fprintf(stderr, " = ");
			print_value(L, -1);
			fprintf(stderr, " ]\n");
			lua_pop(L, 3);
			continue;
		} else {
			int ok;
			lua_Integer v = to_integer(L, -1, &ok);
			if (!ok) {
				snprintf(why, MAX_REASON, "option %s must be an integer, got %s", key, luaL_typename(L, -1));
				lua_pop(L, 2);
				return 0;
			}
			if (o->n < MAX_OPTIONS) {
				o->ids[o->n] = id;
				o->values[o->n] = (int64_t)v;
				o->n++;
			}
		}
		lua_pop(L, 1);
	}
	return 1;
}

/* Like luasteam, the options table is whatever the last argument is, if it
 * is a table. Unknown keys are reported on stderr and skipped; a value that
 * is not an integer is an error. */
static void read_options(lua_State *L, options *o) {
	char why[MAX_REASON];
	if (!read_options_at(L, lua_gettop(L), o, why)) {
		luaL_error(L, "luasteam: %s", why);
	}
}

/* ---- Steam ---- */

/* Steam.init([{steamID = uint64 | "decimal", options = {Name = value}}]) */
static int steam_init(lua_State *L) {
	uint64_t id = 0;
	options o;
	int status;
	o.n = 0;
	if (lua_istable(L, 1)) {
		lua_getfield(L, 1, "steamID");
		if (test_udata(L, -1, UINT64_MT) != NULL) {
			id = check_uint64(L, -1);
		} else if (lua_type(L, -1) == LUA_TSTRING) {
			size_t n;
			const char *s = lua_tolstring(L, -1, &n);
			id = mistParseUint64((char *)s, n);
		} else if (!lua_isnil(L, -1)) {
			luaL_error(L, "luasteam: steamID must be a uint64 or a decimal string");
		}
		lua_pop(L, 1);
		lua_getfield(L, 1, "options");
		if (lua_istable(L, -1)) {
			read_options(L, &o);
		} else if (!lua_isnil(L, -1)) {
			luaL_error(L, "luasteam: options must be a table");
		}
		lua_pop(L, 1);
	}
	status = mistInit(id, o.ids, o.values, o.n);
	if (status != MIST_OK) {
		char msg[512];
		mistLastError(msg, sizeof msg);
		fprintf(stderr, "luasteam: Steam.init failed: %s\n", msg);
		lua_pushboolean(L, 0);
		return 1;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int steam_shutdown(lua_State *L) {
	(void)L;
	mistShutdown();
	return 0;
}

/* Delivers queued callbacks by calling the functions assigned on
 * Steam.networkingSockets. A callback's error stops delivery and is re-raised
 * to the caller; the events not yet delivered stay queued for the next call.
 *
 * It also yields the processor once: programs (the documentation's examples
 * among them) busy-loop on runCallbacks, and on a machine with few free cores
 * that would otherwise starve the library's network and timer threads. */
static int steam_runCallbacks(lua_State *L) {
	mist_event ev;
	uint64_t seq;
	sched_yield();
	mistRunCallbacks();
	while (mistPeekEvent(&ev, &seq)) {
		lua_getfield(L, LUA_REGISTRYINDEX, SOCKETS_KEY);
		lua_getfield(L, -1, ev.kind == MIST_EVENT_CONN ? "onConnectionChanged" : "onAuthenticationStatus");
		lua_remove(L, -2);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			mistDropEvent(seq);
			continue;
		}
		if (ev.kind == MIST_EVENT_CONN) {
			lua_createtable(L, 0, 5);
			push_handle(L, ev.conn);
			lua_setfield(L, -2, "connection");
			lua_pushstring(L, state_name(ev.state));
			lua_setfield(L, -2, "state");
			lua_pushstring(L, state_name(ev.old_state));
			lua_setfield(L, -2, "state_old");
			lua_pushinteger(L, ev.end_reason);
			lua_setfield(L, -2, "endReason");
			lua_pushstring(L, ev.text);
			lua_setfield(L, -2, "debug");
		} else {
			lua_createtable(L, 0, 2);
			lua_pushinteger(L, ev.status);
			lua_setfield(L, -2, "status");
			lua_pushstring(L, ev.text);
			lua_setfield(L, -2, "debugMsg");
		}
		/* The event leaves the queue only now: building the table may
		 * raise (out of memory; on Lua 5.1 and LuaJIT a finalizer's error),
		 * and then it stays queued. Lua code run meanwhile may have
		 * delivered it already; then it is not delivered twice. */
		if (!mistDropEvent(seq)) {
			lua_pop(L, 2);
			continue;
		}
		if (lua_pcall(L, 1, 0, 0) != 0) {
			return lua_error(L);
		}
	}
	return 0;
}

/* ---- Steam.networkingSockets ---- */

static int ns_createListenSocketIP(lua_State *L) {
	size_t n;
	const char *addr = luaL_checklstring(L, 1, &n);
	options o;
	uint64_t h;
	read_options(L, &o);
	check(L, mistCreateListenSocketIP((char *)addr, n, o.ids, o.values, o.n, &h));
	if (h == 0) {
		/* A recognisable failure: nil plus a reason, the Lua convention. */
		lua_pushnil(L);
		lua_pushfstring(L, "cannot listen on %s", addr);
		return 2;
	}
	push_listen_socket(L, h);
	return 1;
}

static int ns_connectByIPAddress(lua_State *L) {
	size_t n;
	const char *addr = luaL_checklstring(L, 1, &n);
	options o;
	uint64_t h;
	read_options(L, &o);
	check(L, mistConnectByIPAddress((char *)addr, n, o.ids, o.values, o.n, &h));
	push_handle(L, h);
	return 1;
}

/* The P2P calls fail (rather than raise) on bad arguments, as on a refused
 * request: the failure value, then the reason. */
static int p2p_fail(lua_State *L, int listen, const char *why) {
	if (listen) {
		lua_pushnil(L);
	} else {
		push_handle(L, 0);
	}
	lua_pushstring(L, why);
	return 2;
}

/* Reads the virtual port at idx and the options table at idx+1 (nil or
 * absent: none). Returns 0 with the reason in why for anything else. */
static int p2p_args(lua_State *L, int idx, int64_t *vport, options *o, char *why) {
	int ok;
	lua_Integer v;
	if (lua_type(L, idx) != LUA_TNUMBER) {
		snprintf(why, MAX_REASON, "virtualPort must be an integer from 0 to 65535, got %s", luaL_typename(L, idx));
		return 0;
	}
	v = to_integer(L, idx, &ok);
	if (!ok || v < 0 || v > 65535) {
		snprintf(why, MAX_REASON, "virtualPort must be an integer from 0 to 65535");
		return 0;
	}
	*vport = (int64_t)v;
	if (!lua_isnoneornil(L, idx + 1) && !lua_istable(L, idx + 1)) {
		snprintf(why, MAX_REASON, "options must be a table, got %s", luaL_typename(L, idx + 1));
		return 0;
	}
	return read_options_at(L, lua_istable(L, idx + 1) ? idx + 1 : 0, o, why);
}

/* createListenSocketP2P(virtualPort [, options]): a listen socket, or nil
 * and the reason. */
static int ns_createListenSocketP2P(lua_State *L) {
	char why[MAX_REASON];
	int64_t vport;
	options o;
	uint64_t h;
	if (!p2p_args(L, 1, &vport, &o, why)) {
		return p2p_fail(L, 1, why);
	}
	check(L, mistCreateListenSocketP2P(vport, o.ids, o.values, o.n, &h, why, sizeof why));
	if (h == 0) {
		return p2p_fail(L, 1, why);
	}
	push_listen_socket(L, h);
	return 1;
}

/* connectP2P(steamID, virtualPort [, options]): a connection id, or 0 and
 * the reason. */
static int ns_connectP2P(lua_State *L) {
	char why[MAX_REASON];
	uint64_t *id = (uint64_t *)test_udata(L, 1, UINT64_MT);
	int64_t vport;
	options o;
	uint64_t h;
	if (id == NULL) {
		snprintf(why, sizeof why, "steamID must be a uint64 (from Steam.extra.parseUint64), got %s", luaL_typename(L, 1));
		return p2p_fail(L, 0, why);
	}
	if (!p2p_args(L, 2, &vport, &o, why)) {
		return p2p_fail(L, 0, why);
	}
	check(L, mistConnectP2P(*id, vport, o.ids, o.values, o.n, &h, why, sizeof why));
	if (h == 0) {
		return p2p_fail(L, 0, why);
	}
	push_handle(L, h);
	return 1;
}

static int ns_acceptConnection(lua_State *L) {
	int r;
	check(L, mistAcceptConnection(check_handle(L, 1), &r));
	push_result(L, r);
	return 1;
}

static int ns_closeConnection(lua_State *L) {
	uint64_t h = check_handle(L, 1);
	int ok;
	check(L, mistCloseConnection(h, lua_toboolean(L, 2), &ok));
	lua_pushboolean(L, ok);
	return 1;
}

static int ns_closeListenSocket(lua_State *L) {
	listen_socket *s = (listen_socket *)test_udata(L, 1, LISTEN_MT);
	int ok = 0;
	if (s == NULL) {
		/* luasteam silently ignores anything but its listen socket value
		 * (so closing a failed createListenSocketIP result is harmless). */
		lua_pushboolean(L, 0);
		return 1;
	}
	check(L, mistCloseListenSocket(s->handle, &ok));
	if (ok) {
		s->handle = 0;
	}
	lua_pushboolean(L, ok);
	return 1;
}

static int ns_sendMessageToConnection(lua_State *L) {
	uint64_t h = check_handle(L, 1);
	size_t n;
	const char *data = luaL_checklstring(L, 2, &n);
	lua_Integer flags = check_integer(L, 3);
	int r;
	check(L, mistSendMessageToConnection(h, (char *)data, n, (int)flags, &r));
	push_result(L, r);
	return 1;
}

/* Reads field name of the table at idx, once (an __index function may
 * answer differently each time), as an integer or raises. */
static lua_Integer message_field_integer(lua_State *L, int idx, int i, const char *name) {
	int ok;
	lua_Integer v;
	lua_getfield(L, idx, name);
	v = to_integer(L, -1, &ok);
	if (!ok) {
		luaL_error(L, "luasteam: sendMessages: messages[%d].%s must be an integer, got %s", i, name,
		           luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	return v;
}

/* Each message table is read exactly once: its fields may come from __index
 * functions that answer differently on a second read, so a size taken in one
 * pass cannot be trusted in another. The payloads are not copied here: each
 * string is kept reachable from the anchors table on the stack, so the
 * pointers stay valid (Lua never moves strings) until the Go side has copied
 * them, even if metamethods run by later messages trigger a collection. */
static int ns_sendMessages(lua_State *L) {
	lua_Integer n = check_integer(L, 1);
	int count, i, status, anchors;
	uint64_t *conns;
	char **datas;
	size_t *lens;
	int *flags, *ok;
	luaL_checktype(L, 2, LUA_TTABLE);
	if (n < 0 || n > MAX_BATCH) {
		return luaL_argerror(L, 1, "message count out of range");
	}
	count = (int)n;
	/* GC-owned blocks, so a Lua error can never leak them. */
	{
		size_t arrays = (size_t)count * (sizeof *conns + sizeof *datas + sizeof *lens + 2 * sizeof *flags);
		char *block = (char *)lua_newuserdata(L, arrays);
		datas = (char **)block;
		lens = (size_t *)(datas + count);
		conns = (uint64_t *)(lens + count);
		flags = (int *)(conns + count);
		ok = flags + count;
	}
	lua_createtable(L, count, 0);
	anchors = lua_gettop(L);
	for (i = 1; i <= count; i++) {
		lua_Integer c;
		int t;
		lua_rawgeti(L, 2, i);
		if (!lua_istable(L, -1)) {
			luaL_error(L, "luasteam: sendMessages: messages[%d] must be a table, got %s", i, luaL_typename(L, -1));
		}
		c = message_field_integer(L, -1, i, "conn");
		conns[i - 1] = c < 0 ? 0 : (uint64_t)c;
		flags[i - 1] = (int)message_field_integer(L, -1, i, "flag");
		/* The payload: a string, a number in its string form, anything else
		 * empty (as luasteam does). */
		lua_getfield(L, -1, "msg");
		t = lua_type(L, -1);
		if (t == LUA_TSTRING || t == LUA_TNUMBER) {
			datas[i - 1] = (char *)lua_tolstring(L, -1, &lens[i - 1]);
			lua_rawseti(L, anchors, i);
		} else {
			datas[i - 1] = NULL;
			lens[i - 1] = 0;
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	status = mistSendMessages(count, conns, datas, lens, flags, ok);
	check(L, status);
	lua_createtable(L, count, 0);
	for (i = 0; i < count; i++) {
		lua_pushboolean(L, ok[i]);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static int ns_flushMessagesOnConnection(lua_State *L) {
	int r;
	check(L, mistFlushMessagesOnConnection(check_handle(L, 1), &r));
	push_result(L, r);
	return 1;
}

/* A received batch comes from malloc (the Go side cannot allocate Lua
 * memory). Until receive frees it, it belongs to a userdata whose __gc frees
 * it: a Lua error while the messages are pushed (out of memory, or a
 * finalizer that raises, which Lua 5.1 and LuaJIT pass on from any
 * allocation) leaves the block to the collector instead of leaking it. */
typedef struct {
	mist_msg *batch;
} batch_owner;

static int batch_owner_gc(lua_State *L) {
	batch_owner *o = (batch_owner *)test_udata(L, 1, BATCH_MT);
	if (o != NULL) {
		free(o->batch);
		o->batch = NULL;
	}
	return 0;
}

/* Shared by both receive calls: n, then a sequence of payloads (connection)
 * or of {msg=, conn=} tables (poll group); just -1 for an invalid handle. */
static int receive(lua_State *L, int group) {
	uint64_t h = check_handle(L, 1);
	int count, i;
	mist_msg *batch;
	batch_owner *owner = (batch_owner *)lua_newuserdata(L, sizeof *owner);
	owner->batch = NULL;
	luaL_getmetatable(L, BATCH_MT);
	lua_setmetatable(L, -2);
	check(L, mistReceive(h, group, &count, &owner->batch));
	batch = owner->batch;
	if (count < 0) {
		lua_pushinteger(L, -1);
		return 1;
	}
	lua_pushinteger(L, count);
	lua_createtable(L, count, 0);
	for (i = 0; i < count; i++) {
		if (group) {
			lua_createtable(L, 0, 2);
			lua_pushlstring(L, batch[i].data, batch[i].len);
			lua_setfield(L, -2, "msg");
			push_handle(L, batch[i].conn);
			lua_setfield(L, -2, "conn");
		} else {
			lua_pushlstring(L, batch[i].data, batch[i].len);
		}
		lua_rawseti(L, -2, i + 1);
	}
	free(batch);
	owner->batch = NULL;
	return 2;
}

static int ns_receiveMessagesOnConnection(lua_State *L) { return receive(L, 0); }

static int ns_receiveMessagesOnPollGroup(lua_State *L) { return receive(L, 1); }

static int ns_initAuthentication(lua_State *L) {
	int status;
	check(L, mistInitAuthentication(&status));
	lua_pushinteger(L, status);
	return 1;
}

static int ns_getAuthenticationStatus(lua_State *L) {
	int status;
	char msg[256];
	check(L, mistAuthenticationStatus(&status, msg, sizeof msg));
	lua_pushinteger(L, status);
	lua_pushstring(L, msg);
	return 2;
}

static int ns_getConnectionInfo(lua_State *L) {
	int ok;
	char desc[128];
	check(L, mistConnectionInfo(check_handle(L, 1), &ok, desc, sizeof desc));
	/* luasteam maps the C++ bool through the result-name table. */
	push_result(L, ok ? 1 : 0);
	lua_pushstring(L, desc);
	return 2;
}

/* Like luasteam, nothing when the identity is not a SteamID (a str:
 * identity from MIST_CERT). */
static int ns_getIdentity(lua_State *L) {
	uint64_t id;
	check(L, mistSteamID(&id));
	if (id == 0)
		return 0;
	push_uint64(L, id);
	return 1;
}

static int ns_createPollGroup(lua_State *L) {
	uint64_t g;
	check(L, mistCreatePollGroup(&g));
	push_handle(L, g);
	return 1;
}

static int ns_destroyPollGroup(lua_State *L) {
	int ok;
	check(L, mistDestroyPollGroup(check_handle(L, 1), &ok));
	lua_pushboolean(L, ok);
	return 1;
}

static int ns_setConnectionPollGroup(lua_State *L) {
	uint64_t c = check_handle(L, 1);
	uint64_t g = check_handle(L, 2);
	int ok;
	check(L, mistSetConnectionPollGroup(c, g, &ok));
	lua_pushboolean(L, ok);
	return 1;
}

/* ---- Steam.networkingUtils, Steam.extra, Steam.user ---- */

static int utils_initRelayNetworkAccess(lua_State *L) {
	(void)L;
	return 0;
}

static int utils_getRelayNetworkStatus(lua_State *L) {
	/* No relay network without Steam: CannotTry. */
	lua_pushinteger(L, -102);
	return 1;
}

static int extra_parseUint64(lua_State *L) {
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	push_uint64(L, mistParseUint64((char *)s, n));
	return 1;
}

static int user_getSteamID(lua_State *L) {
	uint64_t id;
	check(L, mistSteamID(&id));
	push_uint64(L, id);
	return 1;
}

/* ---- module ---- */

static const luaL_Reg steam_fns[] = {
	{"init", steam_init},
	{"shutdown", steam_shutdown},
	{"runCallbacks", steam_runCallbacks},
	{NULL, NULL},
};

static const luaL_Reg sockets_fns[] = {
	{"createListenSocketP2P", ns_createListenSocketP2P},
	{"connectP2P", ns_connectP2P},
	{"createListenSocketIP", ns_createListenSocketIP},
	{"connectByIPAddress", ns_connectByIPAddress},
	{"acceptConnection", ns_acceptConnection},
	{"closeConnection", ns_closeConnection},
	{"closeListenSocket", ns_closeListenSocket},
	{"sendMessageToConnection", ns_sendMessageToConnection},
	{"sendMessages", ns_sendMessages},
	{"flushMessagesOnConnection", ns_flushMessagesOnConnection},
	{"receiveMessagesOnConnection", ns_receiveMessagesOnConnection},
	{"receiveMessagesOnPollGroup", ns_receiveMessagesOnPollGroup},
	{"initAuthentication", ns_initAuthentication},
	{"getAuthenticationStatus", ns_getAuthenticationStatus},
	{"getConnectionInfo", ns_getConnectionInfo},
	{"getIdentity", ns_getIdentity},
	{"createPollGroup", ns_createPollGroup},
	{"destroyPollGroup", ns_destroyPollGroup},
	{"setConnectionPollGroup", ns_setConnectionPollGroup},
	{NULL, NULL},
};

static const luaL_Reg utils_fns[] = {
	{"initRelayNetworkAccess", utils_initRelayNetworkAccess},
	{"getRelayNetworkStatus", utils_getRelayNetworkStatus},
	{NULL, NULL},
};

static const luaL_Reg extra_fns[] = {
	{"parseUint64", extra_parseUint64},
	{NULL, NULL},
};

static const luaL_Reg user_fns[] = {
	{"getSteamID", user_getSteamID},
	{NULL, NULL},
};

static void set_integer(lua_State *L, const char *name, lua_Integer v) {
	lua_pushinteger(L, v);
	lua_setfield(L, -2, name);
}

int luaopen_luasteam(lua_State *L) {
	/* Metatables exist from load time, so uint64 values made before
	 * Steam.init work too. */
	luaL_newmetatable(L, UINT64_MT);
	lua_pushcfunction(L, uint64_eq);
	lua_setfield(L, -2, "__eq");
	lua_pushcfunction(L, uint64_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);

	luaL_newmetatable(L, BATCH_MT);
	lua_pushcfunction(L, batch_owner_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);

	luaL_newmetatable(L, LISTEN_MT);
	lua_pushcfunction(L, listen_socket_eq);
	lua_setfield(L, -2, "__eq");
	lua_pushcfunction(L, listen_socket_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);

	lua_newtable(L); /* Steam */
	set_funcs(L, steam_fns);

	lua_newtable(L); /* Steam.networkingSockets */
	set_funcs(L, sockets_fns);
	lua_newtable(L);
	set_integer(L, "Send_Unreliable", 0);
	set_integer(L, "Send_UnreliableNoNagle", 1);
	set_integer(L, "Send_UnreliableNoDelay", 5);
	set_integer(L, "Send_Reliable", 8);
	set_integer(L, "Send_ReliableNoNagle", 9);
	lua_setfield(L, -2, "flags");
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, SOCKETS_KEY);
	lua_setfield(L, -2, "networkingSockets");

	lua_newtable(L);
	set_funcs(L, utils_fns);
	lua_setfield(L, -2, "networkingUtils");

	lua_newtable(L);
	set_funcs(L, extra_fns);
	lua_setfield(L, -2, "extra");

	lua_newtable(L);
	set_funcs(L, user_fns);
	lua_setfield(L, -2, "user");
	return 1;
}
