/* Types shared by the Lua glue (luasteam.c) and the Go exports (exports.go). */
#ifndef MIST_LUASTEAM_H
#define MIST_LUASTEAM_H

#include <stddef.h>
#include <stdint.h>

/* Status codes the Go side returns; the C side turns non-zero ones into Lua
 * errors, so no Lua error ever unwinds through Go frames. */
enum {
	MIST_OK = 0,
	MIST_ERR_NOT_INIT = 1, /* Steam.init() missing */
	MIST_ERR_OTHER = 3     /* message in mistLastError */
};

enum { MIST_EVENT_CONN = 1, MIST_EVENT_AUTH = 2 };

/* One queued callback. text holds the end debug text (connection events) or
 * the debug message (authentication events), NUL-terminated. */
typedef struct {
	int kind;
	uint64_t conn; /* a handle as Lua sees it (see bridge.Handle) */
	int state;
	int old_state;
	int end_reason;
	int status;
	char text[256];
} mist_event;

/* One received message inside a batch allocated with malloc by the Go side:
 * the array is followed by the payload bytes it points into. */
typedef struct {
	const char *data;
	size_t len;
	uint64_t conn;
} mist_msg;

#endif
