#ifndef CYBERDESK_CPNG_SHIM_H
#define CYBERDESK_CPNG_SHIM_H

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

// libpng reports errors with longjmp, which Swift cannot catch. The whole encode runs
// inside this C function so the setjmp frame is live for every libpng call.

typedef struct {
    unsigned char *data;
    size_t length;
    size_t capacity;
    int failed;
} cpng_buffer;

static inline void cpng_write(png_structp png, png_bytep bytes, png_size_t count) {
    cpng_buffer *out = (cpng_buffer *)png_get_io_ptr(png);
    if (out->failed) return;
    if (out->length + count > out->capacity) {
        size_t capacity = out->capacity ? out->capacity : 65536;
        while (capacity < out->length + count) capacity *= 2;
        unsigned char *grown = (unsigned char *)realloc(out->data, capacity);
        if (!grown) { out->failed = 1; png_error(png, "out of memory"); return; }
        out->data = grown;
        out->capacity = capacity;
    }
    memcpy(out->data + out->length, bytes, count);
    out->length += count;
}

static inline void cpng_flush(png_structp png) { (void)png; }

/// libpng's error callback: keeps libpng's own message for the Swift error, then unwinds
/// to the setjmp in `cpng_write_rgb`.
typedef struct {
    char *text;
    size_t size;
} cpng_error_sink;

static inline void cpng_on_error(png_structp png, png_const_charp message) {
    cpng_error_sink *sink = (cpng_error_sink *)png_get_error_ptr(png);
    if (sink && sink->text && sink->size) snprintf(sink->text, sink->size, "%s", message);
    png_longjmp(png, 1);
}

static inline void cpng_on_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

/// Filters accepted by `cpng_write_rgb`, mirroring libpng's PNG_FILTER_* bits.
enum {
    CPNG_FILTER_NONE = PNG_FILTER_NONE,
    CPNG_FILTER_SUB = PNG_FILTER_SUB,
    CPNG_FILTER_UP = PNG_FILTER_UP,
    CPNG_FILTER_AVG = PNG_FILTER_AVG,
    CPNG_FILTER_PAETH = PNG_FILTER_PAETH,
    CPNG_ALL_FILTERS = PNG_ALL_FILTERS,
};

/// Writes an 8-bit RGB PNG into `out` (free with `cpng_buffer_free`). Either libpng filters
/// and compresses the tightly packed `rgb` rows itself (`zdata` NULL), or `zdata` is an
/// already compressed zlib stream of filtered rows that libpng frames as the one IDAT (the
/// parallel encoder compresses bands of the image on several cores itself). libpng writes
/// the signature, IHDR, IDAT, IEND and their CRCs either way.
/// Returns 0 on success, -1 on a libpng error (message copied into `error`).
static inline int cpng_write_rgb(const unsigned char *rgb, int width, int height, size_t stride,
                                 int level, int filters, int strategy,
                                 const unsigned char *zdata, size_t zlength,
                                 cpng_buffer *out, char *error, size_t error_size) {
    cpng_error_sink sink = {error, error_size};
    if (error_size) error[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, cpng_on_error, cpng_on_warning);
    if (!png) { snprintf(error, error_size, "png_create_write_struct failed"); return -1; }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(error, error_size, "png_create_info_struct failed");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        if (error_size && !error[0]) snprintf(error, error_size, "libpng failed to encode the image");
        return -1;
    }
    png_set_write_fn(png, out, cpng_write, cpng_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (zdata) {
        static const png_byte idat[5] = {'I', 'D', 'A', 'T', 0};
        static const png_byte iend[5] = {'I', 'E', 'N', 'D', 0};
        png_write_info(png, info);
        png_write_chunk(png, idat, zdata, zlength);
        png_write_chunk(png, iend, NULL, 0);
    } else {
        png_set_filter(png, PNG_FILTER_TYPE_BASE, filters);
        png_set_compression_level(png, level);
        png_set_compression_strategy(png, strategy);
        png_write_info(png, info);
        for (int y = 0; y < height; y++) {
            png_write_row(png, (png_const_bytep)(rgb + (size_t)y * stride));
        }
        png_write_end(png, info);
    }
    png_destroy_write_struct(&png, &info);
    return 0;
}

static inline void cpng_buffer_free(cpng_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = buffer->capacity = 0;
}

/// Decodes a PNG into 8-bit RGB (any input format is converted). Used by tests and the
/// benchmark to compare outputs pixel for pixel. Caller frees `*rgb` with free().
static inline int cpng_decode_rgb(const unsigned char *data, size_t length,
                                  unsigned char **rgb, int *width, int *height) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, length)) return -1;
    image.format = PNG_FORMAT_RGB;
    size_t size = PNG_IMAGE_SIZE(image);
    unsigned char *buffer = (unsigned char *)malloc(size);
    if (!buffer) { png_image_free(&image); return -1; }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        free(buffer);
        return -1;
    }
    *rgb = buffer;
    *width = (int)image.width;
    *height = (int)image.height;
    return 0;
}

/// Decodes a PNG into 8-bit RGB like `cpng_decode_rgb`, but reads the header first and refuses
/// images of more than `max_pixels` pixels before allocating anything (a checkpoint's PNG comes
/// from a trajectory, that is from outside). Returns 0 on success, -1 when libpng cannot read
/// the data (its message copied into `error`), -2 when the image is too large (`*width` and
/// `*height` are set). Caller frees `*rgb` with free().
static inline int cpng_decode_rgb_limited(const unsigned char *data, size_t length, size_t max_pixels,
                                          unsigned char **rgb, int *width, int *height,
                                          char *error, size_t error_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (error_size) error[0] = 0;
    if (!png_image_begin_read_from_memory(&image, data, length)) {
        snprintf(error, error_size, "%s", image.message);
        png_image_free(&image);
        return -1;
    }
    *width = (int)image.width;
    *height = (int)image.height;
    if ((size_t)image.width * (size_t)image.height > max_pixels) {
        png_image_free(&image);
        return -2;
    }
    image.format = PNG_FORMAT_RGB;
    size_t size = PNG_IMAGE_SIZE(image);
    unsigned char *buffer = (unsigned char *)malloc(size ? size : 1);
    if (!buffer) {
        png_image_free(&image);
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        snprintf(error, error_size, "%s", image.message);
        png_image_free(&image);
        free(buffer);
        return -1;
    }
    *rgb = buffer;
    return 0;
}

#endif
