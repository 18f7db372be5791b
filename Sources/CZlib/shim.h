#ifndef CYBERDESK_CZLIB_SHIM_H
#define CYBERDESK_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 is a macro over deflateInit2_ (it passes the library version and struct size).
static inline int czlib_deflate_init_raw(z_streamp stream, int level, int strategy) {
    return deflateInit2(stream, level, Z_DEFLATED, -15, 8, strategy);
}

#endif
