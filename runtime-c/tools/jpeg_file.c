/*
 * JPEG frames through libjpeg(-turbo), when CMake finds it: the decoder OpenCV's wheels carry,
 * with the same defaults (integer "islow" IDCT, fancy upsampling), so asymtrack-track gets the
 * very pixels cv2.imread gives the Python tracker and the two track box for box. (stb_image,
 * the fallback, differs from it by up to 3 levels in a few percent of the values.)
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#include "jpeg_file.h"

typedef struct error_manager {
    struct jpeg_error_mgr base;
    jmp_buf escape;
} error_manager;

static void on_error(j_common_ptr info) { longjmp(((error_manager*)info->err)->escape, 1); }

unsigned char* read_jpeg_rgb(const char* path, int* width, int* height) {
    FILE* file = fopen(path, "rb");
    if (file == NULL) return NULL;
    struct jpeg_decompress_struct jpeg;
    error_manager errors;
    unsigned char* volatile pixels = NULL;
    jpeg.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = on_error;
    if (setjmp(errors.escape)) {
        jpeg_destroy_decompress(&jpeg);
        fclose(file);
        free(pixels);
        return NULL;
    }
    jpeg_create_decompress(&jpeg);
    jpeg_stdio_src(&jpeg, file);
    jpeg_read_header(&jpeg, TRUE);
    jpeg.out_color_space = JCS_RGB;
    jpeg_start_decompress(&jpeg);
    size_t row = (size_t)jpeg.output_width * 3;
    pixels = (unsigned char*)malloc(row * jpeg.output_height);
    if (pixels == NULL) longjmp(errors.escape, 1);
    while (jpeg.output_scanline < jpeg.output_height) {
        JSAMPROW line = pixels + row * jpeg.output_scanline;
        jpeg_read_scanlines(&jpeg, &line, 1);
    }
    *width = (int)jpeg.output_width;
    *height = (int)jpeg.output_height;
    jpeg_finish_decompress(&jpeg);
    jpeg_destroy_decompress(&jpeg);
    fclose(file);
    return pixels;
}
