#ifndef CYBERDESK_CX11_SHIM_H
#define CYBERDESK_CX11_SHIM_H

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/Xatom.h>
#include <X11/XKBlib.h>
#include <X11/keysym.h>
#include <X11/extensions/XTest.h>
#include <X11/extensions/record.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xrandr.h>
#include <X11/extensions/Xfixes.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/prctl.h>

// Xlib exposes much of its API as macros, which Swift cannot call. Each gets a prefixed
// static inline wrapper here, following the CNIOLinux convention.

// Names the calling thread (shown by ps and debuggers). prctl is variadic, so Swift cannot call
// it, and pthread_setname_np needs _GNU_SOURCE, which Glibc's module does not define.
static inline int cx11_set_current_thread_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

static inline int cx11_default_screen(Display *d) { return DefaultScreen(d); }
static inline Window cx11_root_window(Display *d) { return DefaultRootWindow(d); }
static inline int cx11_display_width(Display *d) { return DisplayWidth(d, DefaultScreen(d)); }
static inline int cx11_display_height(Display *d) { return DisplayHeight(d, DefaultScreen(d)); }
static inline int cx11_default_depth(Display *d) { return DefaultDepth(d, DefaultScreen(d)); }
static inline Visual *cx11_default_visual(Display *d) { return DefaultVisual(d, DefaultScreen(d)); }
static inline Colormap cx11_default_colormap(Display *d) { return DefaultColormap(d, DefaultScreen(d)); }
static inline unsigned long cx11_black_pixel(Display *d) { return BlackPixel(d, DefaultScreen(d)); }
static inline unsigned long cx11_white_pixel(Display *d) { return WhitePixel(d, DefaultScreen(d)); }
static inline unsigned long cx11_all_planes(void) { return AllPlanes; }
static inline int cx11_connection_number(Display *d) { return ConnectionNumber(d); }
static inline int cx11_destroy_image(XImage *image) { return XDestroyImage(image); }
static inline unsigned long cx11_get_pixel(XImage *image, int x, int y) { return XGetPixel(image, x, y); }
static inline int cx11_image_byte_order(XImage *image) { return image->byte_order; }

static inline unsigned int cx11_xkb_all_client_info_mask(void) { return XkbAllClientInfoMask; }

/// XKB's client map accessors are macros over nested arrays.
static inline int cx11_xkb_key_num_groups(XkbDescPtr xkb, KeyCode kc) { return XkbKeyNumGroups(xkb, kc); }
static inline int cx11_xkb_key_group_width(XkbDescPtr xkb, KeyCode kc, int group) { return XkbKeyGroupWidth(xkb, kc, group); }
static inline KeySym cx11_xkb_key_sym_entry(XkbDescPtr xkb, KeyCode kc, int level, int group) { return XkbKeySymEntry(xkb, kc, level, group); }
static inline XkbKeyTypePtr cx11_xkb_key_key_type(XkbDescPtr xkb, KeyCode kc, int group) { return XkbKeyKeyType(xkb, kc, group); }
static inline int cx11_xkb_key_group_info(XkbDescPtr xkb, KeyCode kc) { return XkbKeyGroupInfo(xkb, kc); }
static inline int cx11_xkb_out_of_range_group_info(int info) { return XkbOutOfRangeGroupInfo(info); }
static inline int cx11_xkb_out_of_range_group_number(int info) { return XkbOutOfRangeGroupNumber(info); }

#endif
