#ifndef CYBERDESK_CXKBCOMMON_SHIM_H
#define CYBERDESK_CXKBCOMMON_SHIM_H

// libxkbcommon: an XKB keyboard state machine fed with key events (modifiers, latches,
// locks, groups) and compose tables for dead keys. The keymap comes from the X server through
// xkbcommon-x11 on the XCB connection underneath an Xlib Display (libX11-xcb).
#include <xkbcommon/xkbcommon.h>
#include <xkbcommon/xkbcommon-compose.h>
#include <xkbcommon/xkbcommon-x11.h>

// Xlib-xcb.h would pull Xlib.h into this module a second time (CX11 has it), and Swift would
// see two copies of every Xlib type. The one function needed is declared on the opaque
// Display instead; Swift passes CX11's Display* (an OpaquePointer) to it.
struct _XDisplay;
xcb_connection_t *XGetXCBConnection(struct _XDisplay *dpy);
static inline xcb_connection_t *cxkb_xcb_connection(struct _XDisplay *display) { return XGetXCBConnection(display); }

#endif
